/*
 * A hostile image's /bin/sh, for the Docker containerizer's tests: run as a network holder
 * (`/bin/sh -c 'read -r _'`), it sends UDP datagrams to the host's 127.0.0.1:$PROBE_PORT through
 * tap0 from the moment it starts, for three seconds, while it holds the namespace; run as
 * anything else, it is busybox's sh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "-c") == 0 && strcmp(argv[2], "read -r _") == 0) {
    if (fork() == 0) {
      const char *port = getenv("PROBE_PORT");
      struct sockaddr_in to = {0};
      to.sin_family = AF_INET;
      to.sin_port = htons(port == NULL ? 9 : atoi(port));
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      double start = now();
      while (now() - start < 3) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "tap0", 5);
        sendto(s, "holder\n", 7, 0, (struct sockaddr *)&to, sizeof to);
        close(s);
        usleep(500);
      }
      _exit(0);
    }
    char c;
    while (read(0, &c, 1) > 0) {
    }
    for (;;) pause();
  }
  argv[0] = "sh";
  execv("/bin/busybox", argv);
  return 127;
}
