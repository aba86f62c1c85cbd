/** The open-tracking pixel: a 1×1 transparent GIF that no cache may keep. */

/** GIF89a, 1×1, one transparent colour (43 bytes). */
export const TRANSPARENT_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Every open must reach us: no browser, proxy or CDN may answer from a cache. */
export const NO_STORE_HEADERS = {
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0, private',
  pragma: 'no-cache',
  expires: '0',
} as const;

export const PIXEL_HEADERS = {
  'content-type': 'image/gif',
  'content-length': String(TRANSPARENT_GIF.length),
  ...NO_STORE_HEADERS,
} as const;
