/**
 * Custom tracking domains (plans with white_label, functions/151): where a
 * tenant's tracking links point, and the host its tracking domain must be a
 * CNAME to.
 */

/**
 * The base of an organisation's tracking links: PUBLIC_URL with its host name
 * replaced by the organisation's verified tracking host (scheme, port and
 * path kept: https in production; http only when PUBLIC_URL itself is http,
 * as in development and tests). Without a tracking host: PUBLIC_URL.
 */
export function trackingBaseUrl(publicUrl: string, trackingHost: string | null | undefined): string {
  const base = publicUrl.replace(/\/+$/, '');
  if (!trackingHost) return base;
  const url = new URL(base);
  url.hostname = trackingHost;
  return url.toString().replace(/\/+$/, '');
}

/** The host a tracking domain must be a CNAME to: TRACKING_CNAME_TARGET, else the host of PUBLIC_URL (the worker's tracking base). */
export function trackingCnameTarget(env: { TRACKING_CNAME_TARGET?: string }, publicUrl: string): string {
  return (env.TRACKING_CNAME_TARGET ?? new URL(publicUrl).hostname).toLowerCase().replace(/\.$/, '');
}
