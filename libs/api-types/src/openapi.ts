// Generated from the server's OpenAPI document (docs/openapi.json) by `npm run api:generate`:
// do not edit. `npm run api:check` fails when it is stale. Friendly names are in ./index.ts.

export interface paths {
    "/api/v1/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The cluster's agents, their containerizers and resources
         * @description Access: any signed-in user.
         */
        get: operations["Cluster_agents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Your approvals inbox
         * @description Promotions awaiting approval on repositories you are a release manager of (administrators: all), asked by someone else, that you have not decided on; oldest first.
         *
         *     Access: any signed-in user.
         */
        get: operations["Releases_inbox"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Who did what, when: promotions, approvals, cancels, secret, role and token changes
         * @description Newest first; every filter given must hold.
         *
         *     Access: administrators.
         */
        get: operations["Audit_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What changed, live, as Server-Sent Events: one stream per page
         * @description A fresh stream starts with `ready`; then a `change` event (`data`: the topics it concerns, and the kind, id and state of the record) whenever something on a watched topic changes: reload what the page shows. Every event has an `id`; reconnecting with `Last-Event-ID` replays what was missed, or sends `reset` (reload everything) when the server no longer knows that id. A comment every 15 s keeps idle connections open.
         *
         *     Access: any signed-in user.
         */
        get: operations["Events_stream"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/jobs/{jobId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A job: its state, attempt, exit code, and why it waits or ended
         * @description Access: the `viewer` role or more on the job's repository; administrators.
         */
        get: operations["Runs_job"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/jobs/{jobId}/artifacts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A job attempt's artifacts (the latest attempt by default)
         * @description Access: the `viewer` role or more on the job's repository; administrators.
         */
        get: operations["Artifacts_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/jobs/{jobId}/artifacts/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download one artifact of a job attempt (the latest by default)
         * @description Access: the `viewer` role or more on the job's repository; administrators.
         */
        get: operations["Artifacts_download"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/jobs/{jobId}/log": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A job's log as text (secret values masked)
         * @description Access: the `viewer` role or more on the job's repository; administrators.
         */
        get: operations["Logs_text"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/jobs/{jobId}/log/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A job's log, live, as Server-Sent Events
         * @description Events `log` (`id`: the byte offset after it), `step` (a step whenever it changes), then `end`. Reconnecting with `Last-Event-ID` resumes where the stream stopped.
         *
         *     Access: the `viewer` role or more on the job's repository; administrators.
         */
        get: operations["Logs_stream"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/jobs/{jobId}/steps": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A job's steps: where each starts in the log, how it ended
         * @description Access: the `viewer` role or more on the job's repository; administrators.
         */
        get: operations["Logs_steps"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Who the caller is
         * @description Access: any signed-in user.
         */
        get: operations["Accounts_me"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/promotions/{promotionId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A promotion: its state, approvals and deploy run
         * @description Access: the `viewer` role or more on the promotion's repository; administrators.
         */
        get: operations["Releases_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/promotions/{promotionId}/approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Approve a promotion (another release manager's, not your own)
         * @description Access: the `release-manager` role or more on the promotion's repository; administrators.
         */
        post: operations["Releases_approve"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/promotions/{promotionId}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a promotion
         * @description One awaiting approval or the lock ends at once; a deploying one cancels its run.
         *
         *     Access: the `release-manager` role or more on the promotion's repository; administrators.
         */
        post: operations["Releases_cancel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/promotions/{promotionId}/reject": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Reject a promotion: it ends `rejected`
         * @description Access: the `release-manager` role or more on the promotion's repository; administrators.
         */
        post: operations["Releases_reject"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/queue": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The jobs that wait (queued or blocked), longest waiting first, and why
         * @description Only jobs of repositories the caller has a role on (administrators: all).
         *
         *     Access: any signed-in user.
         */
        get: operations["Runs_waiting"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The repositories the caller has a role on (all, for an administrator)
         * @description Access: any signed-in user.
         */
        get: operations["Repositories_list"];
        put?: never;
        /**
         * Register a repository
         * @description Access: administrators.
         */
        post: operations["Repositories_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A repository
         * @description Access: the `viewer` role or more on the repository; administrators.
         */
        get: operations["Repositories_get"];
        put?: never;
        post?: never;
        /**
         * Remove a repository, its runs and secrets
         * @description Access: administrators.
         */
        delete: operations["Repositories_delete"];
        options?: never;
        head?: never;
        /**
         * Change a repository
         * @description Access: administrators.
         */
        patch: operations["Repositories_update"];
        trace?: never;
    };
    "/api/v1/repositories/{id}/environments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A repository's environments board
         * @description Each environment in promotion order: what is deployed there, what waits (approvals, the deploy lock), and which runs may be promoted there next; with `run`, whether that run may be promoted to each (the promote dialog offers only those).
         *
         *     Access: the `viewer` role or more on the repository; administrators.
         */
        get: operations["Releases_board"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/environments/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Create an environment or change its policy (unset fields: defaults, or as they were)
         * @description Access: administrators.
         */
        put: operations["Releases_save"];
        post?: never;
        /**
         * Delete an environment and its history
         * @description Access: administrators.
         */
        delete: operations["Releases_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/environments/{name}/deployments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * An environment's history: every promotion to it, newest first
         * @description Access: the `viewer` role or more on the repository; administrators.
         */
        get: operations["Releases_history"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/members": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A repository's members and their roles
         * @description Access: the `viewer` role or more on the repository; administrators.
         */
        get: operations["Accounts_members"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/members/{userId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Give a user a role on a repository (or change it); answers the members
         * @description Access: administrators.
         */
        put: operations["Accounts_setRole"];
        post?: never;
        /**
         * Remove a user's role on a repository
         * @description Access: administrators.
         */
        delete: operations["Accounts_removeRole"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A repository's runs, newest first
         * @description Access: the `viewer` role or more on the repository; administrators.
         */
        get: operations["Runs_list"];
        put?: never;
        /**
         * A manual run of a branch (default: the repository's default branch)
         * @description Access: the `developer` role or more on the repository; administrators.
         */
        post: operations["Runs_trigger"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A repository's cron schedules
         * @description Access: the `viewer` role or more on the repository; administrators.
         */
        get: operations["Runs_listSchedules"];
        put?: never;
        /**
         * A cron schedule (UTC) that starts runs of a branch
         * @description Access: the `developer` role or more on the repository; administrators.
         */
        post: operations["Runs_createSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/secrets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A repository's build secrets: names only
         * @description Access: the `developer` role or more on the repository; administrators.
         */
        get: operations["Repositories_listSecrets"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/secrets/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Create or replace a build secret (sealed at rest)
         * @description With `environments`, only deployments to those environments get it (after their policy and approvals); replacing a secret replaces its environments too.
         *
         *     Access: the `release-manager` role or more on the repository; administrators.
         */
        put: operations["Repositories_putSecret"];
        post?: never;
        /**
         * Remove a build secret
         * @description Access: the `release-manager` role or more on the repository; administrators.
         */
        delete: operations["Repositories_deleteSecret"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/repositories/{id}/webhook-secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A new webhook secret, shown once
         * @description Access: administrators.
         */
        post: operations["Repositories_rotateWebhookSecret"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{runId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A run with its jobs
         * @description Access: the `viewer` role or more on the run's repository; administrators.
         */
        get: operations["Runs_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{runId}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a run: end its queued jobs, kill its running tasks
         * @description Access: the `developer` role or more on the run's repository; administrators.
         */
        post: operations["Runs_cancel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{runId}/promotions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Promote a run that passed to an environment
         * @description Checks the environment's policy (a successful build, an allowed branch, deployed to the previous environment first), then waits for approvals if it needs any, then for the environment's deploy lock; a `promote` run on the run's commit then deploys its artifacts. Promoting a run older than what is deployed is a rollback.
         *
         *     Access: the `release-manager` role or more on the run's repository; administrators.
         */
        post: operations["Releases_request"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{runId}/rerun": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A new run of the same commit
         * @description Access: the `developer` role or more on the run's repository; administrators.
         */
        post: operations["Runs_rerun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{runId}/rerun-failed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The failed (and canceled, and thereby skipped) jobs again, in the same run
         * @description Access: the `developer` role or more on the run's repository; administrators.
         */
        post: operations["Runs_rerunFailed"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{scheduleId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Remove a schedule
         * @description Access: the `developer` role or more on the schedule's repository; administrators.
         */
        delete: operations["Runs_deleteSchedule"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/session": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The signed-in session and its CSRF token
         * @description Access: any signed-in user.
         */
        get: operations["Accounts_session"];
        put?: never;
        /**
         * Sign in
         * @description Sets the HttpOnly `kiln_session` cookie; answers the CSRF token its writes need.
         *
         *     Access: public, no sign-in.
         */
        post: operations["Accounts_login"];
        /**
         * Sign out: end the session and clear its cookie
         * @description Access: any signed-in user.
         */
        delete: operations["Accounts_logout"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{taskId}/artifacts/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * An agent's upload of one artifact of a task
         * @description For agents: `Authorization: Bearer <task token>` (the task's log token) and `x-kiln-sha256`; the body is the raw bytes. A resend replaces the artifact.
         *
         *     Access: public, no sign-in.
         */
        put: operations["Artifacts_upload"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{taskId}/inputs/{jobId}/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * An artifact of the run a promote task deploys, for its agent
         * @description For agents: `Authorization: Bearer <task token>`. The latest attempt's artifact of a job of the promoted run, which the agent writes into the workspace before the job runs.
         *
         *     Access: public, no sign-in.
         */
        get: operations["Artifacts_input"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{taskId}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * An agent's chunk of a task's output
         * @description For agents: `Authorization: Bearer <log token>`, a token good for this one task only (not a user's API token). Idempotent by byte offset.
         *
         *     Access: public, no sign-in.
         */
        post: operations["Logs_ingest"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{taskId}/source.git/git-upload-pack": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A pack of a task's commit, for git's fetch
         * @description For agents, through git: `git fetch <server>/api/v1/tasks/<taskId>/source.git <sha>`, the task's token as the password of Basic credentials (or `Authorization: Bearer <token>`). The body is git's upload-pack request; the answer streams the pack.
         *
         *     Access: public, no sign-in.
         */
        post: operations["TaskSource_uploadPack"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{taskId}/source.git/info/refs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The refs of a task's repository, for git's fetch
         * @description For agents, through git: `git fetch <server>/api/v1/tasks/<taskId>/source.git <sha>`, the task's token as the password of Basic credentials (or `Authorization: Bearer <token>`). The first request of git's smart HTTP protocol.
         *
         *     Access: public, no sign-in.
         */
        get: operations["TaskSource_refs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{taskId}/source.pack": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A task's commit as one git pack
         * @description The commit and every object of its tree, none of its history (what `git fetch --depth 1` of it transfers), for `git index-pack`. The task's token as the password of Basic credentials (or `Authorization: Bearer <token>`).
         *
         *     Access: public, no sign-in.
         */
        get: operations["TaskSource_pack"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The caller's personal API tokens (never the tokens themselves)
         * @description Access: any signed-in user.
         */
        get: operations["Accounts_tokens"];
        put?: never;
        /**
         * A new personal API token, shown in this answer only
         * @description Access: any signed-in user.
         */
        post: operations["Accounts_createToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens/{tokenId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke one of the caller's tokens
         * @description Access: any signed-in user.
         */
        delete: operations["Accounts_deleteToken"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every user
         * @description Access: administrators.
         */
        get: operations["Accounts_users"];
        put?: never;
        /**
         * Create a user
         * @description Access: administrators.
         */
        post: operations["Accounts_createUser"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users/{userId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Disable a user, or enable them again
         * @description A disabled user cannot sign in; their sessions end and their API tokens stop working. Their name stays on what they did.
         *
         *     Access: administrators.
         */
        patch: operations["Accounts_updateUser"];
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness: the process answers
         * @description Access: public, no sign-in.
         */
        get: operations["Health_healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/hooks/{forge}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A forge's webhook
         * @description Authenticated by the forge's signature over the raw body with the repository's webhook secret (GitHub `X-Hub-Signature-256`, GitLab `X-Gitlab-Token`, Gitea/Forgejo `X-Gitea-Signature`/`X-Forgejo-Signature`, Bitbucket `X-Hub-Signature`), not an API token.
         *
         *     Access: public, no sign-in.
         */
        post: operations["Webhooks_receive"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/hooks/{forge}/{repositoryId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A forge's webhook
         * @description Authenticated by the forge's signature over the raw body with the repository's webhook secret (GitHub `X-Hub-Signature-256`, GitLab `X-Gitlab-Token`, Gitea/Forgejo `X-Gitea-Signature`/`X-Forgejo-Signature`, Bitbucket `X-Hub-Signature`), not an API token.
         *
         *     Access: public, no sign-in.
         */
        post: operations["Webhooks_receiveFor"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness: the database and Redis answer, and no shutdown is under way
         * @description Access: public, no sign-in.
         */
        get: operations["Health_readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        AgentResponse: {
            /** @example [
             *       "docker",
             *       "cgroup"
             *     ] */
            containerizers: string[];
            /** @description What is not in use now. */
            free: components["schemas"]["ResourcesResponse"];
            /** @example build-1 */
            hostname: string;
            id: string;
            /** @example ACTIVE */
            state: string;
            total: components["schemas"]["ResourcesResponse"];
        };
        AgentsResponse: {
            agents: components["schemas"]["AgentResponse"][];
        };
        ApiTokenResponse: {
            /** Format: date-time */
            createdAt: string;
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            lastUsedAt?: string;
            /** @example laptop cli */
            name: string;
        };
        ArtifactResponse: {
            attempt: number;
            /** Format: date-time */
            createdAt: string;
            /**
             * @description Relative to the job workspace.
             * @example out/app.tar.gz
             */
            name: string;
            /** @description Lowercase hex SHA-256 of the bytes. */
            sha256: string;
            /** @description In bytes. */
            size: number;
        };
        ArtifactRetentionResponse: {
            /** @description A run's artifacts go once its newest artifact is older than this many days. */
            days?: number;
            /** @description Only the newest this many runs that have artifacts keep them. */
            runs?: number;
        };
        AuditEventResponse: {
            /** @example run.canceled */
            action: string;
            /**
             * @description The user name at the time; absent when Kiln itself acted.
             * @example alice
             */
            actor?: string;
            /** Format: date-time */
            at: string;
            /** @description The action's particulars (never a secret's value or a token). */
            details: {
                [key: string]: unknown;
            };
            /** Format: uuid */
            id: string;
            /** @description The object: a UUID, or a name where it has none (a secret). */
            objectId: string;
            /** @example run */
            objectType: string;
            /**
             * @description Absent when the repository has been removed since.
             * @example acme/web
             */
            repositoryFullName?: string;
            /** Format: uuid */
            repositoryId?: string;
            /** @example alice canceled run #12 of acme/web */
            summary: string;
        };
        AuditPageResponse: {
            /** @description Newest first. */
            events: components["schemas"]["AuditEventResponse"][];
            /**
             * Format: uuid
             * @description Pass as `before` for the next (older) page; absent on the last page.
             */
            next?: string;
        };
        CreateRepositoryDto: {
            /**
             * @description The forge's API root; unset: derived from the forge and the clone URL.
             * @example https://api.github.com
             */
            apiUrl?: string;
            /**
             * @description New pushes to a pull request cancel its older unfinished runs.
             * @default true
             */
            autoCancelPullRequests?: boolean;
            /**
             * @description An http(s), git, ssh or file URL.
             * @example https://github.com/acme/widgets.git
             */
            cloneUrl: string;
            /**
             * @description Unset: `main`.
             * @example main
             */
            defaultBranch?: string;
            /** @example github */
            forge: components["schemas"]["Forge"];
            /** @description For commit statuses (and private clones); stored sealed, never returned. */
            forgeToken?: string;
            /**
             * @description `owner/name` as the forge spells it (GitLab: `group/subgroup/name`). Compared in any case, as forges do: a webhook may spell it otherwise, and a second registration in another case is refused.
             * @example acme/widgets
             */
            fullName: string;
        };
        CreateScheduleDto: {
            /**
             * @description Unset: the repository's default branch.
             * @example main
             */
            branch?: string;
            /**
             * @description Five fields (minute hour day month weekday), or six with one second first, in UTC: a schedule fires at most once a minute.
             * @example 0 3 * * *
             */
            cron: string;
            /** @example nightly */
            name: string;
        };
        CreateTokenDto: {
            /** @example laptop cli */
            name: string;
        };
        CreateUserDto: {
            /**
             * @description An administrator may do everything.
             * @default false
             */
            admin?: boolean;
            /** Format: password */
            password: string;
            /** @example alice */
            username: string;
        };
        CreatedApiTokenResponse: {
            /** Format: date-time */
            createdAt: string;
            /** Format: uuid */
            id: string;
            /** Format: date-time */
            lastUsedAt?: string;
            /** @example laptop cli */
            name: string;
            /** @description The token itself: shown in this answer only. */
            token: string;
        };
        CreatedRepositoryResponse: {
            /** @example https://api.github.com */
            apiUrl?: string;
            /**
             * @description How long its runs' artifacts are kept; an absent measure does not limit, none: kept forever. Runs deployed now or being promoted keep theirs.
             * @example {
             *       "days": 30,
             *       "runs": 20
             *     }
             */
            artifactRetention: components["schemas"]["ArtifactRetentionResponse"];
            autoCancelPullRequests: boolean;
            /** @example https://github.com/acme/widgets.git */
            cloneUrl: string;
            /** Format: date-time */
            createdAt: string;
            /** @example main */
            defaultBranch: string;
            /** @example github */
            forge: components["schemas"]["Forge"];
            /** @example acme/widgets */
            fullName: string;
            /** @description Whether a forge token is set (it is never shown). */
            hasForgeToken: boolean;
            /** Format: uuid */
            id: string;
            /**
             * @description Where the forge sends webhooks (relative to the server's address).
             * @example /hooks/github
             */
            webhookPath: string;
            /** @description The secret the forge signs webhooks with; shown this once. */
            webhookSecret: string;
        };
        CurrentSessionResponse: {
            /** @description For a cookie session: the `x-csrf-token` its writes need (absent for a token). */
            csrfToken?: string;
            user: components["schemas"]["UserResponse"];
        };
        DatabaseStatusResponse: {
            /** @enum {string} */
            dialect: "sqlite" | "postgres";
            error?: string;
            up: boolean;
        };
        /** @enum {string} */
        Decision: "approve" | "reject";
        DecisionDto: {
            comment?: string;
        };
        DecisionResponse: {
            /** Format: date-time */
            at: string;
            comment?: string;
            decision: components["schemas"]["Decision"];
            user: string;
        };
        DeployRunResponse: {
            /** Format: uuid */
            id: string;
            number: number;
            state: components["schemas"]["RunState"];
        };
        EligibilityResponse: {
            /** @description Whether the run may be promoted to the environment now. */
            eligible: boolean;
            /**
             * @description Why not, for people: the rule that refuses it, or the promotion under way.
             * @example run #7 has not been deployed to staging: promote it to staging first
             */
            reason?: string;
            /** Format: uuid */
            run: string;
        };
        EnvironmentBoardEntryResponse: {
            /** @description What is deployed there now. */
            current?: components["schemas"]["PromotionResponse"];
            /** @description With `?run=`: whether that run may be promoted here now, and why not. */
            eligibility?: components["schemas"]["EligibilityResponse"];
            environment: components["schemas"]["EnvironmentResponse"];
            /** @description Awaiting approval, queued, deploying. */
            pending: components["schemas"]["PromotionResponse"][];
            /** @description Runs that may be promoted next. */
            promotable: components["schemas"]["RunSummaryResponse"][];
        };
        EnvironmentResponse: {
            allowedBranches?: string[];
            approvalTimeoutMinutes: number;
            /** Format: date-time */
            createdAt: string;
            /** Format: uuid */
            id: string;
            /** @example production */
            name: string;
            /** @example staging */
            previous?: string;
            /** Format: uuid */
            repositoryId: string;
            requiredApprovals: number;
        };
        ErrorResponse: {
            /**
             * @description Individual problems, e.g. one per invalid field.
             * @example [
             *       "cloneUrl must be an http(s), git, ssh or file URL"
             *     ]
             */
            details?: string[];
            /** @example Not Found */
            error: string;
            /**
             * Format: uuid
             * @description Set on 5xx: the id under which the error was logged.
             */
            errorId?: string;
            /** @example run 0b7e8f0c-3c4d-4e4f-8a9b-1c2d3e4f5a6b does not exist */
            message: string;
            /** @example 404 */
            statusCode: number;
        };
        /** @enum {string} */
        Forge: "github" | "gitlab" | "gitea" | "forgejo" | "bitbucket";
        JobAttemptResponse: {
            agentId?: string;
            /** @description 1 for the first try. */
            attempt: number;
            exitCode?: number;
            /** Format: date-time */
            finishedAt?: string;
            /** Format: date-time */
            queuedAt?: string;
            /**
             * @description Why the attempt's task ended, as a code.
             * @example AGENT_UNREACHABLE
             */
            reason?: string;
            /** Format: date-time */
            startedAt?: string;
            /** @description queued or running: the latest attempt, not ended yet; `lost`: its task was given up (its agent stayed unreachable past the partition timeout, or the cluster lost it), so how it ended is unknown. */
            state: components["schemas"]["JobAttemptState"];
            /** @description How it ended (or why it waits), for people. */
            statusMessage?: string;
            /** @description The attempt's cluster task (its log and artifacts). */
            taskId?: string;
        };
        /**
         * @description queued or running: the latest attempt, not ended yet; `lost`: its task was given up (its agent stayed unreachable past the partition timeout, or the cluster lost it), so how it ended is unknown.
         * @enum {string}
         */
        JobAttemptState: "queued" | "running" | "success" | "failure" | "canceled" | "lost";
        JobPlanResponse: {
            allowFailure: boolean;
            /** @description The paths it keeps as artifacts. */
            artifacts: string[];
            /** @description Pipeline env, overridden by job env, overridden by the matrix values. */
            env: {
                [key: string]: string;
            };
            /**
             * @description Absent: the job runs in a native cgroup container, without an image.
             * @example gcc:13
             */
            image?: string;
            /**
             * @description Unique in the run: the job name, plus its matrix values for an expansion.
             * @example build (node=18)
             */
            key: string;
            /** @example {
             *       "node": "18"
             *     } */
            matrix?: {
                [key: string]: string;
            };
            /**
             * @description The job's name in `.kiln.yml`.
             * @example build
             */
            name: string;
            /** @description The keys of the jobs it waits for. */
            needs: string[];
            /** @description In a promote run: the keys of the jobs it needs that the promoted run built (skipped here). */
            promotedNeeds?: string[];
            resources: components["schemas"]["ResourcesResponse"];
            /**
             * @description Tries after the first.
             * @example 0
             */
            retry: number;
            /** @description The names of the secrets it is given. */
            secrets: string[];
            steps: components["schemas"]["PlanStepResponse"][];
            /** @example 3600 */
            timeoutSeconds: number;
        };
        JobResponse: {
            agentId?: string;
            /** @description 1 for the first try; a retry or a rerun adds one. 0: never queued (skipped). */
            attempt: number;
            /** Format: date-time */
            createdAt: string;
            /** @description The tasks of earlier attempts, oldest first. */
            earlierTaskIds: string[];
            exitCode?: number;
            /** Format: date-time */
            finishedAt?: string;
            /** Format: uuid */
            id: string;
            /**
             * @description The job as `.kiln.yml` names it.
             * @example test
             */
            key: string;
            plan: components["schemas"]["JobPlanResponse"];
            /** Format: date-time */
            queuedAt?: string;
            /**
             * @description Why the job's task ended, as a code.
             * @example TIMEOUT
             */
            reason?: string;
            /** Format: uuid */
            runId: string;
            /** Format: date-time */
            startedAt?: string;
            state: components["schemas"]["JobState"];
            /**
             * @description Why it waits, or how it ended.
             * @example needs 8 cpus; the largest agent has 2
             */
            statusMessage?: string;
            taskId?: string;
            usage?: components["schemas"]["JobUsageResponse"];
        };
        /** @enum {string} */
        JobState: "blocked" | "queued" | "running" | "success" | "failure" | "canceled" | "skipped";
        JobUsageResponse: {
            /** @example 12.5 */
            cpuSeconds?: number;
            /** @example 268435456 */
            memPeakBytes?: number;
        };
        JobWithAttemptsResponse: {
            agentId?: string;
            /** @description 1 for the first try; a retry or a rerun adds one. 0: never queued (skipped). */
            attempt: number;
            /** @description Every attempt of the job (retries, reruns), oldest first; none if never queued. */
            attempts: components["schemas"]["JobAttemptResponse"][];
            /** Format: date-time */
            createdAt: string;
            /** @description The tasks of earlier attempts, oldest first. */
            earlierTaskIds: string[];
            exitCode?: number;
            /** Format: date-time */
            finishedAt?: string;
            /** Format: uuid */
            id: string;
            /**
             * @description The job as `.kiln.yml` names it.
             * @example test
             */
            key: string;
            plan: components["schemas"]["JobPlanResponse"];
            /** Format: date-time */
            queuedAt?: string;
            /**
             * @description Why the job's task ended, as a code.
             * @example TIMEOUT
             */
            reason?: string;
            /** Format: uuid */
            runId: string;
            /** Format: date-time */
            startedAt?: string;
            state: components["schemas"]["JobState"];
            /**
             * @description Why it waits, or how it ended.
             * @example needs 8 cpus; the largest agent has 2
             */
            statusMessage?: string;
            taskId?: string;
            usage?: components["schemas"]["JobUsageResponse"];
        };
        LivenessResponse: {
            /** @enum {string} */
            status: "ok";
        };
        LogChunkAnswer: {
            /** @description The byte offset expected next. */
            nextOffset: number;
        };
        LogChunkBody: {
            bytes: number;
            /** @description The UTF-8 decoding of the bytes. */
            data: string;
            /** @description The last chunk: the task's output is complete. */
            eof?: boolean;
            /** @description Where the chunk starts in the task's output. */
            offset: number;
            /** @description For diagnosis, not for ordering. */
            seq: number;
            /** @example task-1 */
            taskId: string;
        };
        LoginDto: {
            /** Format: password */
            password: string;
            /** @example admin */
            username: string;
        };
        MembershipResponse: {
            /** Format: uuid */
            repositoryId: string;
            role: components["schemas"]["RepositoryRole"];
            /** Format: uuid */
            userId: string;
            /** @example alice */
            username: string;
        };
        PlanStepResponse: {
            /** @example make test */
            name: string;
            /**
             * @description The shell script the step runs.
             * @example make test
             */
            run: string;
        };
        PromotedArtifactResponse: {
            /** @description The key of the job that kept it. */
            job: string;
            name: string;
            sha256: string;
            size: number;
        };
        PromotedRunResponse: {
            /** Format: uuid */
            id: string;
            number: number;
        };
        PromotionResponse: {
            approvals: components["schemas"]["DecisionResponse"][];
            artifacts: components["schemas"]["PromotedArtifactResponse"][];
            comment?: string;
            /** @description The promote run, once started. */
            deployRun?: components["schemas"]["DeployRunResponse"];
            /** @example production */
            environment: string;
            /** Format: date-time */
            expiresAt?: string;
            /** Format: date-time */
            finishedAt?: string;
            /** Format: uuid */
            id: string;
            repositoryFullName: string;
            /** Format: uuid */
            repositoryId: string;
            /** Format: date-time */
            requestedAt: string;
            requestedBy: string;
            requiredApprovals: number;
            /** @description The run is older than what was deployed when it was asked. */
            rollback: boolean;
            /** @description The run promoted. */
            run: components["schemas"]["RunSummaryResponse"];
            /** Format: date-time */
            startedAt?: string;
            state: components["schemas"]["PromotionState"];
            statusMessage?: string;
        };
        /** @enum {string} */
        PromotionState: "awaiting-approval" | "queued" | "deploying" | "deployed" | "failed" | "canceled" | "rejected" | "expired";
        PutSecretDto: {
            /**
             * @description Only deployments (promote runs) to these environments get it; unset: every run whose job lists it. A build that lists a limited secret ends in error saying so.
             * @example [
             *       "production"
             *     ]
             */
            environments?: string[];
            /** @description Stored sealed; never shown again. */
            value: string;
        };
        PutSecretResponse: {
            /** @description Whether the secret is new (else it was replaced). */
            created: boolean;
            /** @example NPM_TOKEN */
            name: string;
        };
        ReadinessChecksResponse: {
            database: components["schemas"]["DatabaseStatusResponse"];
            redis: components["schemas"]["RedisStatusResponse"];
        };
        ReadinessResponse: {
            checks: components["schemas"]["ReadinessChecksResponse"];
            /** @description The process is shutting down. */
            draining: boolean;
            /** @description Every dependency answers and the process is not shutting down. */
            ready: boolean;
        };
        RedisStatusResponse: {
            /** @example connection is reconnecting */
            error?: string;
            up: boolean;
        };
        RepositoryResponse: {
            /** @example https://api.github.com */
            apiUrl?: string;
            /**
             * @description How long its runs' artifacts are kept; an absent measure does not limit, none: kept forever. Runs deployed now or being promoted keep theirs.
             * @example {
             *       "days": 30,
             *       "runs": 20
             *     }
             */
            artifactRetention: components["schemas"]["ArtifactRetentionResponse"];
            autoCancelPullRequests: boolean;
            /** @example https://github.com/acme/widgets.git */
            cloneUrl: string;
            /** Format: date-time */
            createdAt: string;
            /** @example main */
            defaultBranch: string;
            /** @example github */
            forge: components["schemas"]["Forge"];
            /** @example acme/widgets */
            fullName: string;
            /** @description Whether a forge token is set (it is never shown). */
            hasForgeToken: boolean;
            /** Format: uuid */
            id: string;
            /**
             * @description Where the forge sends webhooks (relative to the server's address).
             * @example /hooks/github
             */
            webhookPath: string;
        };
        /** @enum {string} */
        RepositoryRole: "viewer" | "developer" | "release-manager";
        RequestPromotionDto: {
            comment?: string;
            /** @example production */
            environment: string;
        };
        ResourcesResponse: {
            /** @example 4 */
            cpus: number;
            /**
             * @description Memory, in MiB.
             * @example 8192
             */
            mem: number;
        };
        RunDetailsResponse: {
            /**
             * Format: date-time
             * @description When artifact retention deleted its artifacts (it is no longer promotable).
             */
            artifactsDeletedAt?: string;
            /** @description The commit's author (a pushed run: as the forge says). */
            author?: string;
            /** @example main */
            branch?: string;
            changedFiles?: string[];
            /** Format: date-time */
            createdAt: string;
            /**
             * @description A `promote` run: the environment it deploys to.
             * @example production
             */
            environment?: string;
            /** @description Why the run ended in `error`: `.kiln.yml:line:col: path: message` each. */
            errors?: string[];
            event: components["schemas"]["RunEvent"];
            /** Format: date-time */
            finishedAt?: string;
            /** @description A pull request from a fork: no secrets are injected. */
            fromFork: boolean;
            /** Format: uuid */
            id: string;
            jobs: components["schemas"]["JobWithAttemptsResponse"][];
            /** @description The commit message (or pull request title), at most 64 KiB; in a list of runs, its first line only, at most 200 characters. */
            message?: string;
            /**
             * @description From 1, per repository.
             * @example 42
             */
            number: number;
            /** @description A `promote` run: the run it deploys. */
            promotedRun?: components["schemas"]["PromotedRunResponse"];
            /**
             * Format: uuid
             * @description A `promote` run: the run it deploys.
             */
            promotedRunId?: string;
            /**
             * Format: uuid
             * @description A `promote` run: its promotion.
             */
            promotionId?: string;
            /** @description The pull request it builds. */
            pullRequest?: number;
            /** @example refs/heads/main */
            ref: string;
            /** Format: uuid */
            repositoryId: string;
            /**
             * Format: uuid
             * @description The run this one reruns.
             */
            rerunOf?: string;
            /** @example 3f786850e387550fdab836ed7e6dc881de23001b */
            sha: string;
            /** Format: date-time */
            startedAt?: string;
            /** @description Who started it: the user of a manual run, or `schedule <name>` for a cron run. */
            startedBy?: string;
            state: components["schemas"]["RunState"];
            /** @example v1.2.0 */
            tag?: string;
        };
        /** @enum {string} */
        RunEvent: "push" | "pull_request" | "tag" | "manual" | "cron" | "promote";
        RunPageResponse: {
            /** @description Pass as `before` for the next (older) page; absent on the last page. */
            next?: number;
            /** @description Newest first. */
            runs: components["schemas"]["RunResponse"][];
        };
        RunResponse: {
            /**
             * Format: date-time
             * @description When artifact retention deleted its artifacts (it is no longer promotable).
             */
            artifactsDeletedAt?: string;
            /** @description The commit's author (a pushed run: as the forge says). */
            author?: string;
            /** @example main */
            branch?: string;
            changedFiles?: string[];
            /** Format: date-time */
            createdAt: string;
            /**
             * @description A `promote` run: the environment it deploys to.
             * @example production
             */
            environment?: string;
            /** @description Why the run ended in `error`: `.kiln.yml:line:col: path: message` each. */
            errors?: string[];
            event: components["schemas"]["RunEvent"];
            /** Format: date-time */
            finishedAt?: string;
            /** @description A pull request from a fork: no secrets are injected. */
            fromFork: boolean;
            /** Format: uuid */
            id: string;
            /** @description The commit message (or pull request title), at most 64 KiB; in a list of runs, its first line only, at most 200 characters. */
            message?: string;
            /**
             * @description From 1, per repository.
             * @example 42
             */
            number: number;
            /**
             * Format: uuid
             * @description A `promote` run: the run it deploys.
             */
            promotedRunId?: string;
            /** @description The pull request it builds. */
            pullRequest?: number;
            /** @example refs/heads/main */
            ref: string;
            /** Format: uuid */
            repositoryId: string;
            /**
             * Format: uuid
             * @description The run this one reruns.
             */
            rerunOf?: string;
            /** @example 3f786850e387550fdab836ed7e6dc881de23001b */
            sha: string;
            /** Format: date-time */
            startedAt?: string;
            /** @description Who started it: the user of a manual run, or `schedule <name>` for a cron run. */
            startedBy?: string;
            state: components["schemas"]["RunState"];
            /** @example v1.2.0 */
            tag?: string;
        };
        /** @enum {string} */
        RunState: "pending" | "running" | "success" | "failure" | "error" | "canceled";
        RunSummaryResponse: {
            author?: string;
            branch?: string;
            /** Format: date-time */
            finishedAt?: string;
            /** Format: uuid */
            id: string;
            message?: string;
            number: number;
            sha: string;
        };
        SaveEnvironmentDto: {
            /**
             * @description Branch globs a promoted run must come from; null or unset: any branch.
             * @example [
             *       "main",
             *       "release/*"
             *     ]
             */
            allowedBranches?: string[] | null;
            /**
             * @description A promotion awaiting approval expires after this many minutes.
             * @default 1440
             */
            approvalTimeoutMinutes?: number;
            /**
             * @description The environment a run must have been deployed to first; null: none.
             * @example staging
             */
            previous?: string | null;
            /**
             * @description Distinct release managers who must approve, never the requester.
             * @default 0
             */
            requiredApprovals?: number;
        };
        ScheduleResponse: {
            /** @example main */
            branch: string;
            /** Format: date-time */
            createdAt: string;
            /**
             * @description In UTC.
             * @example 0 3 * * *
             */
            cron: string;
            /** Format: uuid */
            id: string;
            /** @example nightly */
            name: string;
            /** Format: uuid */
            repositoryId: string;
        };
        SecretResponse: {
            /** Format: date-time */
            createdAt: string;
            /** @description The environments whose deployments alone get it; absent: not limited. */
            environments?: string[];
            /** @example NPM_TOKEN */
            name: string;
            /** Format: date-time */
            updatedAt: string;
        };
        SessionResponse: {
            /** @description Send it as the `x-csrf-token` header with every write of this session. */
            csrfToken: string;
            user: components["schemas"]["UserResponse"];
        };
        SetRoleDto: {
            /** @example developer */
            role: components["schemas"]["RepositoryRole"];
        };
        StepResponse: {
            /** @description Null while it runs. */
            exitCode: number | null;
            /** Format: date-time */
            finishedAt: string | null;
            /** @description The number (from 1) of the step's first log line. */
            firstLine: number;
            /** @description The step's position in the job, from 0. */
            idx: number;
            /** @example test */
            name: string;
            /** Format: date-time */
            startedAt: string;
        };
        TriggerRunDto: {
            /**
             * @description Unset: the repository's default branch.
             * @example main
             */
            branch?: string;
            /** @description A full commit id; unset: the branch's head now. */
            sha?: string;
        };
        UpdateRepositoryDto: {
            /** @description `null`: derived from the forge and the clone URL again. */
            apiUrl?: string | null;
            /**
             * @description Delete a run's artifacts once its newest artifact is older than this many days (never those of a run deployed now or being promoted); `null`: no age limit.
             * @example 30
             */
            artifactRetentionDays?: number | null;
            /**
             * @description Keep the artifacts of only the newest this many runs that have artifacts (and of runs deployed now or being promoted); `null`: no limit.
             * @example 20
             */
            artifactRetentionRuns?: number | null;
            /**
             * @description New pushes to a pull request cancel its older unfinished runs.
             * @default true
             */
            autoCancelPullRequests?: boolean;
            /** @example main */
            defaultBranch?: string;
            /** @description `null` removes the token. */
            forgeToken?: string | null;
        };
        UpdateUserDto: {
            /** @description True: the user cannot sign in and their sessions and API tokens stop working. */
            disabled: boolean;
        };
        UserResponse: {
            /** Format: date-time */
            createdAt: string;
            /**
             * Format: date-time
             * @description When an administrator disabled the user; absent while they may sign in.
             */
            disabledAt?: string;
            /** Format: uuid */
            id: string;
            isAdmin: boolean;
            /** @example alice */
            username: string;
        };
        WaitingJobResponse: {
            /** Format: uuid */
            jobId: string;
            /**
             * @description The job as `.kiln.yml` names it.
             * @example test
             */
            key: string;
            /** Format: uuid */
            repositoryId: string;
            /** @example acme/kiln */
            repositoryName: string;
            /** Format: uuid */
            runId: string;
            /** @example 42 */
            runNumber: number;
            state: components["schemas"]["WaitingJobState"];
            /**
             * @description Why it waits; for a blocked job, the jobs it needs that have not ended.
             * @example waits for build (running)
             */
            statusMessage?: string;
            /**
             * Format: date-time
             * @description Queued: since it was queued; blocked: since its run started.
             */
            waitingSince: string;
        };
        /** @enum {string} */
        WaitingJobState: "queued" | "blocked";
        WebhookResponse: {
            /**
             * Format: uuid
             * @description 200: a redelivery; the run it created.
             */
            duplicateOf?: string;
            /**
             * @description Why nothing happens (a ping, a deleted branch, `[skip ci]`, another event).
             * @example the head commit asks to skip CI
             */
            ignored?: string;
            /** @example delivery 1234 was received before */
            message?: string;
            /** @description 202: its number. */
            number?: number;
            /**
             * Format: uuid
             * @description 202: the run the delivery created.
             */
            runId?: string;
        };
        WebhookSecretResponse: {
            /** @description The secret the forge signs webhooks with; shown this once. */
            webhookSecret: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    Cluster_agents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentsResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The cluster master cannot be read (the error is logged under `errorId`) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_inbox: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResponse"][];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Audit_list: {
        parameters: {
            query?: {
                limit?: number;
                /** @description An event id: answers the events before it (the `next` of the previous page). */
                before?: string;
                /** @description Only events about this repository. */
                repositoryId?: string;
                /** @description Only events of this action. */
                action?: string;
                /** @description Only events of this actor (the user name at the time). */
                actor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditPageResponse"];
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Events_stream: {
        parameters: {
            query: {
                /** @description What the stream watches, comma-separated: run:<id>, repository:<id>, environments:<id>, queue, cluster, approvals */
                topics: string;
            };
            header?: {
                /** @description The `id` of the last event received: resume after it */
                "last-event-id"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The event stream */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description An unknown topic, or an id that is not a UUID (the message names it); or the query is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run or repository of a topic does not exist (or is not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_job: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                jobId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobResponse"];
                };
            };
            /** @description `jobId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The job does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Artifacts_list: {
        parameters: {
            query?: {
                /** @description Which attempt of the job, from 1; the latest when unset. */
                attempt?: number;
            };
            header?: never;
            path: {
                jobId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ArtifactResponse"][];
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem; or `jobId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The job has no such attempt; or the job does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Artifacts_download: {
        parameters: {
            query?: {
                /** @description Which attempt of the job, from 1; the latest when unset. */
                attempt?: number;
            };
            header?: never;
            path: {
                jobId: string;
                /** @description The artifact name, relative to the job workspace (`out/app.tar.gz`) */
                path: unknown;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bytes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description Not an artifact name; or the query is invalid (unknown fields too); `details` names each problem; or `jobId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description No such artifact; or the job does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Logs_text: {
        parameters: {
            query?: {
                /** @description Which attempt of the job, from 1; the latest when unset. */
                attempt?: number;
            };
            header?: never;
            path: {
                jobId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The log so far */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem; or `jobId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The job has no such attempt; or the job does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Logs_stream: {
        parameters: {
            query?: {
                /** @description Which attempt of the job, from 1; the latest when unset. */
                attempt?: number;
                /** @description Replay from this byte offset (an `id` of an earlier `log` event); `Last-Event-ID` wins. */
                from?: number;
            };
            header?: {
                /** @description The `id` of the last `log` event received: resume after it */
                "last-event-id"?: string;
            };
            path: {
                jobId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The event stream */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem; or `jobId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The job has no such attempt; or the job does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Logs_steps: {
        parameters: {
            query?: {
                /** @description Which attempt of the job, from 1; the latest when unset. */
                attempt?: number;
            };
            header?: never;
            path: {
                jobId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StepResponse"][];
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem; or `jobId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The job has no such attempt; or the job does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_me: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                promotionId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResponse"];
                };
            };
            /** @description `promotionId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The promotion does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_approve: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                promotionId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DecisionDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem; or `promotionId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description You requested it: someone else must approve; or the caller's role is less than `release-manager`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The promotion does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description It is not awaiting approval, or you decided already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run queue (Redis) is unavailable: no approval was recorded */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                promotionId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResponse"];
                };
            };
            /** @description `promotionId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `release-manager`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The promotion does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description It has already ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_reject: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                promotionId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DecisionDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem; or `promotionId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description You requested it: cancel it instead; or the caller's role is less than `release-manager`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The promotion does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description It is not awaiting approval, or you decided already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_waiting: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WaitingJobResponse"][];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RepositoryResponse"][];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_create: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateRepositoryDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedRepositoryResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository is registered already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RepositoryResponse"];
                };
            };
            /** @description `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_update: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateRepositoryDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RepositoryResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_board: {
        parameters: {
            query?: {
                /** @description A run: each entry then says whether the policy lets it be promoted there now. */
                run?: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnvironmentBoardEntryResponse"][];
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem; or `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description `run` names no run of the repository; or the repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_save: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                /** @description The environment name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SaveEnvironmentDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnvironmentResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description `previous` names no environment of the repository, or closes a cycle */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                /** @description The environment name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description No such environment */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Another environment follows it, or a promotion to it has not ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_history: {
        parameters: {
            query?: {
                limit?: number;
                /** @description A promotion id: only promotions requested before it (paging). */
                before?: string;
            };
            header?: never;
            path: {
                id: string;
                /** @description The environment name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResponse"][];
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem; or `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description No such environment; or the repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_members: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MembershipResponse"][];
                };
            };
            /** @description `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_setRole: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                userId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SetRoleDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MembershipResponse"][];
                };
            };
            /** @description `id` or `userId` is not a UUID; or the body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository or the user does not exist */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_removeRole: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                userId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `id` or `userId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The user has no role on the repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_list: {
        parameters: {
            query?: {
                limit?: number;
                /** @description A run number: answers the runs before it (the `next` of the previous page). */
                before?: number;
                /** @description Only runs of this branch. */
                branch?: string;
                /** @description Only runs started by this event. */
                event?: components["schemas"]["RunEvent"];
                /** @description Only runs in this state. */
                state?: components["schemas"]["RunState"];
                /** @description Only runs of this author (the forge's user name). */
                author?: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPageResponse"];
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem; or `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_trigger: {
        parameters: {
            query?: never;
            header?: {
                /** @description Any unique string (a UUID): a retry with the same key and body answers what the first request answered (with `Idempotent-Replayed: true`) and creates nothing. Kept 24 h. The same key on another request (method, path or body) answers 422; while the first is still being answered, 409. */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TriggerRunDto"];
            };
        };
        responses: {
            /** @description Created; its jobs follow */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem; or `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `developer`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The branch or commit cannot be fetched from the clone URL */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run queue (Redis) is unavailable: no run was created */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_listSchedules: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScheduleResponse"][];
                };
            };
            /** @description `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_createSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateScheduleDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ScheduleResponse"];
                };
            };
            /** @description The cron pattern does not parse, or fires more often than once a minute; or the body is invalid (unknown fields too); `details` names each problem; or `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `developer`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository has a schedule of that name already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_listSecrets: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SecretResponse"][];
                };
            };
            /** @description `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `developer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_putSecret: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PutSecretDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PutSecretResponse"];
                };
            };
            /** @description The name is not an environment variable name; or the body is invalid (unknown fields too); `details` names each problem; or `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `release-manager`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description An environment the repository does not have */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_deleteSecret: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The name is not an environment variable name; or `id` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `release-manager`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository has no such secret; or the repository does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Repositories_rotateWebhookSecret: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookSecretResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The repository does not exist */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                runId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunDetailsResponse"];
                };
            };
            /** @description `runId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `viewer` */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                runId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Canceled */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunDetailsResponse"];
                };
            };
            /** @description `runId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description A deployment (a promote run): canceling it takes the release-manager role; or the caller's role is less than `developer`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run has already ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Releases_request: {
        parameters: {
            query?: never;
            header?: {
                /** @description Any unique string (a UUID): a retry with the same key and body answers what the first request answered (with `Idempotent-Replayed: true`) and creates nothing. Kept 24 h. The same key on another request (method, path or body) answers 422; while the first is still being answered, 409. */
                "Idempotency-Key"?: string;
            };
            path: {
                runId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RequestPromotionDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem; or `runId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `release-manager`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run is already being promoted to that environment */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The policy refuses it (the message says which rule), or no such environment */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run queue (Redis) is unavailable: no promotion was requested */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_rerun: {
        parameters: {
            query?: never;
            header?: {
                /** @description Any unique string (a UUID): a retry with the same key and body answers what the first request answered (with `Idempotent-Replayed: true`) and creates nothing. Kept 24 h. The same key on another request (method, path or body) answers 422; while the first is still being answered, 409. */
                "Idempotency-Key"?: string;
            };
            path: {
                runId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The new run */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunResponse"];
                };
            };
            /** @description `runId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `developer`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run queue (Redis) is unavailable: no run was created */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_rerunFailed: {
        parameters: {
            query?: never;
            header?: {
                /** @description Any unique string (a UUID): a retry with the same key and body answers what the first request answered (with `Idempotent-Replayed: true`) and creates nothing. Kept 24 h. The same key on another request (method, path or body) answers 422; while the first is still being answered, 409. */
                "Idempotency-Key"?: string;
            };
            path: {
                runId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunDetailsResponse"];
                };
            };
            /** @description `runId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `developer`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run has not ended, has no failed jobs, or changed meanwhile */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The run queue (Redis) is unavailable: no job was rerun */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Runs_deleteSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                scheduleId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `scheduleId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller's role is less than `developer`; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The schedule does not exist, or the caller has no role on its repository */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_session: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CurrentSessionResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Wrong user name or password */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Over 10 sign-in attempts a minute from this address */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Signed out */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description A session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Artifacts_upload: {
        parameters: {
            query?: never;
            header?: {
                /** @description Lowercase hex SHA-256 of the body */
                "x-kiln-sha256"?: string;
            };
            path: {
                taskId: string;
                /** @description The artifact name, relative to the job workspace (`out/app.tar.gz`) */
                path: unknown;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": string;
            };
        };
        responses: {
            /** @description Stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ArtifactResponse"];
                };
            };
            /** @description A name that is not relative to the workspace, too large, or a checksum mismatch */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description No task token, or not this task's */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task is not the current task of a job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task's job has ended, or its attempt keeps 1,000 artifacts already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The artifact would take the job attempt's artifacts over 4 GiB in all */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Artifacts_input: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: string;
                jobId: string;
                /** @description The artifact name, relative to the job workspace (`out/app.tar.gz`) */
                path: unknown;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bytes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description Not an artifact name */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description No task token, or not this task's */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not an artifact of the run the task deploys */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task's job has ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Logs_ingest: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LogChunkBody"];
            };
        };
        responses: {
            /** @description Stored (or seen before) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LogChunkAnswer"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description No log token, or not this task's */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The chunk would leave a gap */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LogChunkAnswer"];
                };
            };
        };
    };
    TaskSource_uploadPack: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description git's upload-pack result */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-git-upload-pack-result": unknown;
                };
            };
            /** @description No task token, or not this task's */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task is not the current task of a job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task's job has ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    TaskSource_refs: {
        parameters: {
            query: {
                /** @description Must be `git-upload-pack` */
                service: unknown;
            };
            header?: never;
            path: {
                taskId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description git's ref advertisement */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-git-upload-pack-advertisement": unknown;
                };
            };
            /** @description The query is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description No task token, or not this task's */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description A service other than git-upload-pack (a push) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task is not the current task of a job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task's job has ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    TaskSource_pack: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A git pack */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-git-packfile": unknown;
                };
            };
            /** @description No task token, or not this task's */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task is not the current task of a job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The task's job has ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_tokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiTokenResponse"][];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_createToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateTokenDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedApiTokenResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description A session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_deleteToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                tokenId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Revoked */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `tokenId` is not a UUID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description A session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller has no such token */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_users: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserResponse"][];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_createUser: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateUserDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserResponse"];
                };
            };
            /** @description The body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description A user of that name exists already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Accounts_updateUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                userId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateUserDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserResponse"];
                };
            };
            /** @description `userId` is not a UUID; or the body is invalid (unknown fields too); `details` names each problem */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Not signed in, or the token or session is unknown or expired */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The caller is not an administrator; or a session write without the `x-csrf-token` header */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The user does not exist */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description An administrator cannot disable themselves */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Health_healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LivenessResponse"];
                };
            };
        };
    };
    Webhooks_receive: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                forge: components["schemas"]["Forge"];
            };
            cookie?: never;
        };
        /** @description The event as the forge sends it */
        requestBody: {
            content: {
                "application/json": {
                    [key: string]: unknown;
                };
            };
        };
        responses: {
            /** @description A ping (an organization ping too), or a redelivery (nothing new) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResponse"];
                };
            };
            /** @description A run was created, or why not */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResponse"];
                };
            };
            /** @description No body, a body that is not a JSON object (or nests deeper than 64 levels), a missing event or delivery header, a delivery id over 200 characters */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The signature is missing or does not match, whatever the event */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Unknown forge, or no such repository is registered */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The body is over 25 MB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The body is not application/json (nor GitHub’s form-encoded JSON) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description An event Kiln acts on that names no repository, a ref git could not store, a commit id that is none, or a pull request number that is no positive integer */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Webhooks_receiveFor: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                forge: components["schemas"]["Forge"];
                repositoryId: string;
            };
            cookie?: never;
        };
        /** @description The event as the forge sends it */
        requestBody: {
            content: {
                "application/json": {
                    [key: string]: unknown;
                };
            };
        };
        responses: {
            /** @description A ping (an organization ping too), or a redelivery (nothing new) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResponse"];
                };
            };
            /** @description A run was created, or why not */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResponse"];
                };
            };
            /** @description No body, a body that is not a JSON object (or nests deeper than 64 levels), a missing event or delivery header, a delivery id over 200 characters */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The signature is missing or does not match, whatever the event */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description Unknown forge, or no such repository is registered */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The body is over 25 MB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description The body is not application/json (nor GitHub’s form-encoded JSON) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
            /** @description An event Kiln acts on that names no repository, a ref git could not store, a commit id that is none, or a pull request number that is no positive integer */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorResponse"];
                };
            };
        };
    };
    Health_readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReadinessResponse"];
                };
            };
            /** @description Not ready */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReadinessResponse"];
                };
            };
        };
    };
}
type ReadonlyArray<T> = [
    Exclude<T, undefined>
] extends [
    unknown[]
] ? Readonly<Exclude<T, undefined>> : Readonly<Exclude<T, undefined>[]>;
export const databaseStatusResponseDialectValues: ReadonlyArray<components["schemas"]["DatabaseStatusResponse"]["dialect"]> = ["sqlite", "postgres"];
export const decisionValues: ReadonlyArray<components["schemas"]["Decision"]> = ["approve", "reject"];
export const forgeValues: ReadonlyArray<components["schemas"]["Forge"]> = ["github", "gitlab", "gitea", "forgejo", "bitbucket"];
export const jobAttemptStateValues: ReadonlyArray<components["schemas"]["JobAttemptState"]> = ["queued", "running", "success", "failure", "canceled", "lost"];
export const jobStateValues: ReadonlyArray<components["schemas"]["JobState"]> = ["blocked", "queued", "running", "success", "failure", "canceled", "skipped"];
export const livenessResponseStatusValues: ReadonlyArray<components["schemas"]["LivenessResponse"]["status"]> = ["ok"];
export const promotionStateValues: ReadonlyArray<components["schemas"]["PromotionState"]> = ["awaiting-approval", "queued", "deploying", "deployed", "failed", "canceled", "rejected", "expired"];
export const repositoryRoleValues: ReadonlyArray<components["schemas"]["RepositoryRole"]> = ["viewer", "developer", "release-manager"];
export const runEventValues: ReadonlyArray<components["schemas"]["RunEvent"]> = ["push", "pull_request", "tag", "manual", "cron", "promote"];
export const runStateValues: ReadonlyArray<components["schemas"]["RunState"]> = ["pending", "running", "success", "failure", "error", "canceled"];
export const waitingJobStateValues: ReadonlyArray<components["schemas"]["WaitingJobState"]> = ["queued", "blocked"];
