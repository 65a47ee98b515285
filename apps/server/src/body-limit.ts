/**
 * The largest request body the server reads. GitHub sends webhook payloads of up to 25 MB; one
 * limit for every JSON body covers log chunks' (2 MB) too.
 */
export const SERVER_BODY_LIMIT = '25mb';
