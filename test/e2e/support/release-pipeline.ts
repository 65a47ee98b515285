/**
 * The pipeline of the release tests. `build` keeps dist/app.txt, unique to its run (a rebuild would
 * show as a new digest); `deploy-staging` and `deploy-production` run only in a promote run to
 * their environment, and print the digest of the dist/app.txt they were given.
 * `linkOutside`: the build also tries to keep a link to /etc/passwd, which must be refused.
 * `productionSecret`: deploy-production lists that secret and prints it (masked, it must be).
 */
export function releasePipeline(
  options: { linkOutside?: boolean; productionSecret?: string } = {},
): string {
  const link = options.linkOutside === true ? ' && ln -s /etc/passwd dist/leak' : '';
  const secret = options.productionSecret;
  const secrets = secret === undefined ? '' : `\n    secrets: [${secret}]`;
  const print = secret === undefined ? '' : ` && echo "token=[$${secret}]"`;
  return `
jobs:
  build:
    steps:
      - run: mkdir -p dist && echo "app of run $KILN_RUN_NUMBER, $(date +%s%N)" > dist/app.txt${link}
    artifacts: [dist/**]
  deploy-staging:
    needs: [build]
    when: { event: promote, environment: staging }
    steps:
      - run: echo "deploying run $KILN_PROMOTED_RUN to $KILN_ENVIRONMENT" && sha256sum dist/app.txt && sleep 1
  deploy-production:
    needs: [build]
    when: { event: promote, environment: production }${secrets}
    steps:
      - run: echo "deploying run $KILN_PROMOTED_RUN to $KILN_ENVIRONMENT" && sha256sum dist/app.txt${print}
`;
}
