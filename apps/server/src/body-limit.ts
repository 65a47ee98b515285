/**
 * The largest request body the server reads. GitHub sends webhook payloads of up to 25 MB; one
 * limit for every JSON body covers log chunks' (2 MB) too.
 */
export const SERVER_BODY_LIMIT = '25mb';

/**
 * Where a body is kept as its bytes and not parsed: a forge's webhook is signed over the exact
 * bytes, and its receiver parses them itself once the signature names a repository.
 */
export const SERVER_RAW_BODY_PATHS = ['/hooks'] as const;
