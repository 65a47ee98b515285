/**
 * The message of a failed HTTP answer from a Kiln process: the `message` of its error body, or
 * the start of whatever else came back (a proxy's page, say).
 */
export async function failedResponseMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // Not Kiln's error shape: keep the raw text.
  }
  return `answered ${res.status}: ${message.slice(0, 500)}`;
}
