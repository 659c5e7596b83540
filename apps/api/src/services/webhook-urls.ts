import { ApiError } from '@inferq/core/errors';
import { checkWebhookUrl, UnsafeUrlError, type AllowList } from '@inferq/core/ssrf';

/** Refuses (400, naming `field`) a webhook URL the SSRF guard would not deliver to. */
export async function assertSafeWebhookUrl(url: string, allow: AllowList, field: string): Promise<void> {
  try {
    await checkWebhookUrl(url, allow);
  } catch (err) {
    if (!(err instanceof UnsafeUrlError)) throw err;
    throw new ApiError('invalid_request', `The webhook URL is refused: it ${err.message}.`, [{ path: field, message: err.message }]);
  }
}
