/*
 * How a native container's first process runs a task's shell command: in a shell the task cannot
 * read, which gets the command's text (and the task's environment, which may hold secrets) where
 * no process of the task can read it, checks the task's commit out if it has one, and then
 * evaluates the text.
 */

/**
 * The shell a task's shell command runs in: a copy of the host's `/bin/sh` in the root filesystem
 * (see `rootfs.ts`) that the task may execute but not read, being the host root's with mode 0111,
 * and no id of the task's user namespace maps the host's root. The kernel makes a process that
 * executes a file it cannot read non-dumpable, owned by the namespace the file's owner is mapped
 * in, the host's: then only CAP_SYS_PTRACE there, which no task holds, reads its memory,
 * environment and descriptors, through `/proc` or `ptrace`. Its command line stays readable to
 * all, so the command's text never goes there.
 *
 * This is what keeps a build's step markers (see the server's `build-task.ts`) to the script that
 * prints them: the steps it runs execute the ordinary `/bin/sh`, as the same user, and cannot read
 * the nonce the markers carry. What the command runs otherwise is the task's as before.
 */
export const PRIVATE_SHELL = '/.kiln/sh';

/** What a container's checkout tells on its descriptor 3 ({@link CHECKOUT_REPORT_FD}) once done. */
export const CHECKED_OUT = 'checked-out';

/**
 * The descriptor on which the first process of a container that checks out reports it: the first
 * that runc's `--preserve-fds` passes on (see the shim).
 */
const CHECKOUT_REPORT_FD = 3;

/**
 * The descriptor on which a container's first process reads the command's text, when it is
 * delivered ({@link deliveredText}): the second that runc's `--preserve-fds` passes on.
 */
const TEXT_FD = 4;

/**
 * The descriptor on which a container whose command is delivered waits for the agent's word
 * before it reads the text, the third `--preserve-fds` passes: the shim's gate FIFO, or the word
 * the shim got before it ran runc (see `SHIM`).
 */
const WORD_FD = 5;

/** The first word of a delivered text: a descriptor that holds none says nothing was delivered. */
const TEXT_HEADER = 'kiln-text';

/** The variables a shell command's text reaches {@link PRIVATE_SHELL} in: `…_0`, `…_1`, … */
const TEXT_VARIABLE = '__KILN_COMMAND_';

/**
 * The most UTF-16 code units of text per variable: at most 4 bytes of UTF-8 each, under the
 * kernel's 128 KiB for one string of a new program's environment.
 */
const TEXT_PER_VARIABLE = 30_000;

/** A name the shell can export: the others it passes on from its environment as they are. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What the shell sets for itself at its start, whatever its environment says (dash's). */
const SET_BY_THE_SHELL = new Set(['IFS', 'OPTIND', 'PPID', 'PWD']);

/**
 * Checks the commit in `$1` out in the workspace (whose repository holds its objects and no files
 * yet), as the container's own user, by the host's git (under `/usr`, which the container sees
 * read-only): with none of the task's variables (their exports are in the text, not yet
 * evaluated) and no configuration but the repository's own. How it went is told on descriptor 3,
 * which runc was given for it, and which nothing after it holds: git, then the command, run
 * without it, so only this shell's word is ever written there. A checkout that fails ends the
 * container with git's exit code before the command starts.
 */
const CHECK_OUT = [
  '  HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1 PATH=/usr/local/bin:/usr/bin:/bin \\',
  `    git -c advice.detachedHead=false checkout -q --detach "$1" ${CHECKOUT_REPORT_FD}>&- ||`,
  `    { __kiln_i=$?; echo "failed $__kiln_i" >&${CHECKOUT_REPORT_FD}; exit "$__kiln_i"; }`,
  `  echo ${CHECKED_OUT} >&${CHECKOUT_REPORT_FD}`,
  `  exec ${CHECKOUT_REPORT_FD}>&-`,
];

/**
 * Run by {@link PRIVATE_SHELL} with the number of text variables as `$1`: joins them, unsets them
 * (the command's processes do not inherit them), and evaluates the text. Builtins only, but for
 * the checkout: with a commit as `$2`, it is checked out first ({@link CHECK_OUT}).
 */
const RUN_PRIVATE_TEXT = [
  '__kiln_n=$1; shift; __kiln_text=; __kiln_i=0',
  'while [ "$__kiln_i" -lt "$__kiln_n" ]; do',
  `  eval "__kiln_text=\\$__kiln_text\\$${TEXT_VARIABLE}$__kiln_i; unset ${TEXT_VARIABLE}$__kiln_i"`,
  '  __kiln_i=$((__kiln_i + 1))',
  'done',
  'unset __kiln_n __kiln_i',
  'if [ "$#" -gt 0 ]; then',
  ...CHECK_OUT,
  '  shift',
  'fi',
  'eval "unset __kiln_text; $__kiln_text"',
].join('\n');

/**
 * Run by {@link PRIVATE_SHELL} in a container whose command is delivered on descriptor 4 (see
 * {@link deliveredText}), which the container may be made long before: waits for the agent's
 * word `go` on descriptor 5 (it comes once the workspace is ready and the text written; any other
 * word, or none, and the container ends with 125, having run nothing), then reads the text whole
 * (by the host's `cat`, while nothing of the task runs yet), closes the descriptors, checks the
 * commit the text's first line names out ({@link CHECK_OUT}), and evaluates the rest. A
 * descriptor without a text on it (nothing was delivered) runs nothing either.
 */
const RUN_DELIVERED_TEXT = [
  `__kiln_text=; read -r __kiln_text <&${WORD_FD}; exec ${WORD_FD}<&-`,
  `[ "$__kiln_text" = go ] || { echo "kiln: the agent did not start the task" >&2; exit 125; }`,
  `__kiln_text=$(PATH=/usr/bin:/bin exec cat <&${TEXT_FD} ${CHECKOUT_REPORT_FD}>&-) || exit 125`,
  `exec ${TEXT_FD}<&-`,
  "__kiln_nl='",
  "'",
  'case $__kiln_text in',
  `  "${TEXT_HEADER} "*) ;;`,
  `  *) echo "kiln: no command was delivered to the container" >&2; exit 125 ;;`,
  'esac',
  '__kiln_head=${__kiln_text%%"$__kiln_nl"*}',
  '__kiln_text=${__kiln_text#"$__kiln_head"}',
  '__kiln_text=${__kiln_text#"$__kiln_nl"}',
  `set -- "\${__kiln_head#${TEXT_HEADER} }"`,
  'unset __kiln_head',
  'if [ "$1" != - ]; then',
  ...CHECK_OUT,
  'fi',
  // Passed whether or not there is a checkout: the command never holds it.
  `exec ${CHECKOUT_REPORT_FD}>&-`,
  'shift',
  'eval "unset __kiln_text __kiln_nl; $__kiln_text"',
].join('\n');

/**
 * How the container's first process runs a shell command with the task's environment, so that
 * nothing the task chose acts on {@link PRIVATE_SHELL} before the command's text is out of its
 * environment: the dynamic loader reads `LD_PRELOAD` and the like as the shell starts (a library
 * of the checkout's, loaded into it, would read the text), and a shell may read `SHELLOPTS`. So the
 * shell starts with none of the task's variables but those it sets itself and those it could not
 * export; the text it evaluates exports the others first, as they are, then runs the command.
 * What the command and its processes see is the task's environment, as from `sh -c`.
 */
export function privateShellCommand(
  text: string,
  environment: Readonly<Record<string, string>>,
  /** Checked out before the text runs, its outcome told on descriptor 3 (see CHECK_OUT). */
  checkout?: { commit: string },
): { argv: string[]; environment: Record<string, string> } {
  const { exported, direct } = exportsOf(environment);
  const pieces = piecesOf([...exported, text].join('\n'), TEXT_PER_VARIABLE);
  pieces.forEach((piece, index) => (direct[`${TEXT_VARIABLE}${index}`] = piece));
  return {
    argv: [
      PRIVATE_SHELL,
      '-c',
      RUN_PRIVATE_TEXT,
      'sh',
      String(pieces.length),
      ...(checkout === undefined ? [] : [checkout.commit]),
    ],
    environment: direct,
  };
}

/**
 * The first process of a container whose command is delivered on a descriptor
 * ({@link deliveredText}): the same for every task, so that the container can be made, and its
 * process started, before its task is known. It starts with no variables at all, and waits for
 * the agent's word on descriptor 5 before it reads its command.
 */
export function deliveredTextCommand(): { argv: string[]; environment: Record<string, string> } {
  return { argv: [PRIVATE_SHELL, '-c', RUN_DELIVERED_TEXT, 'sh'], environment: {} };
}

/**
 * What a container made by {@link deliveredTextCommand} reads on its descriptor 4: a first line
 * naming the commit to check out (`-` for none), then the text that exports the task's variables
 * and runs its command, as {@link privateShellCommand}'s. Undefined for an environment with a
 * variable no shell can export (a name with a dot, say), which only a program's environment can
 * carry: such a task's container is made with its command ({@link privateShellCommand}).
 */
/** Whether every variable of `environment` can be delivered with a text ({@link deliveredText}). */
export function canDeliver(environment: Readonly<Record<string, string>>): boolean {
  return Object.keys(environment).every(exportable);
}

export function deliveredText(
  text: string,
  environment: Readonly<Record<string, string>>,
  checkout?: { commit: string },
): string | undefined {
  if (!canDeliver(environment)) return undefined;
  const { exported } = exportsOf(environment);
  return [`${TEXT_HEADER} ${checkout?.commit ?? '-'}`, ...exported, text].join('\n');
}

/** The task's variables as the lines of shell that export them, and those no shell can export. */
function exportsOf(environment: Readonly<Record<string, string>>): {
  exported: string[];
  direct: Record<string, string>;
} {
  const direct: Record<string, string> = {};
  // Not `exports`: compiled to CommonJS, a local of that name hides the module's own.
  const exported: string[] = [];
  for (const [name, value] of Object.entries(environment)) {
    if (exportable(name)) {
      exported.push(`export ${name}=${singleQuoted(value)}`);
    } else {
      direct[name] = value;
    }
  }
  return { exported, direct };
}

/** Whether the shell can export a variable of this name, rather than take it from its start. */
function exportable(name: string): boolean {
  return SHELL_NAME.test(name) && !SET_BY_THE_SHELL.has(name);
}

/** `word` as one word of the shell, as it is. */
function singleQuoted(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** `text` in pieces of at most `size` code units, never between the two halves of a pair. */
function piecesOf(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + size);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}
