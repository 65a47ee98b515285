import { parseResources, SCALARS, type Scalar } from '@kiln/contracts';

/** `ci=2,batch=1` → [['ci', 2], ['batch', 1]] (the format is checked by MasterEnv). */
export function parseWeights(text: string | undefined): [string, number][] {
  if (text === undefined) return [];
  return text.split(',').map((pair) => {
    const [role = '', weight = ''] = pair.split('=').map((s) => s.trim());
    const value = Number(weight);
    if (!(value > 0)) throw new Error(`KILN_MASTER_ROLE_WEIGHTS: weight of ${role} must be > 0`);
    return [role, value];
  });
}

/** `ci=cpus:8;mem:16384|batch=cpus:2` → [['ci', {cpus: 8, mem: 16384}], ['batch', {cpus: 2}]]. */
export function parseQuotas(text: string | undefined): [string, Partial<Record<Scalar, number>>][] {
  if (text === undefined) return [];
  return text.split('|').map((entry) => {
    const equals = entry.indexOf('=');
    const role = entry.slice(0, equals).trim();
    if (equals < 1 || !/^[a-z0-9][a-z0-9_.-]*$/.test(role)) {
      throw new Error(`KILN_MASTER_ROLE_QUOTAS: "${entry}" must look like ci=cpus:8;mem:16384`);
    }
    const body = entry.slice(equals + 1);
    let parsed;
    try {
      parsed = parseResources(body);
    } catch (error) {
      throw new Error(`KILN_MASTER_ROLE_QUOTAS: ${(error as Error).message}`);
    }
    const named = new Set(body.split(';').map((part) => part.split(':')[0]?.trim()));
    const quota: Partial<Record<Scalar, number>> = {};
    for (const scalar of SCALARS) if (named.has(scalar)) quota[scalar] = parsed[scalar];
    return [role, quota];
  });
}
