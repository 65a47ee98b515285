import type { ApiClient } from '../../e2e/support/api-client';

/**
 * The id of the first job of a run just created, once the server has planned it (no cluster is
 * needed for that: the job waits queued).
 */
export async function firstJobOf(api: ApiClient, runId: string): Promise<string> {
  for (let i = 0; ; i++) {
    const { jobs } = await api.ok<{ jobs: { id: string }[] }>('GET', `/api/v1/runs/${runId}`);
    if (jobs[0] !== undefined) return jobs[0].id;
    if (i > 200) throw new Error(`run ${runId} got no job`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
