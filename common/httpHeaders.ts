// A credential travels in an HTTP header, where fetch refuses a line break or a control
// character, and quotes the whole value in its error: both the config and the client check it.

/** One line of visible ASCII characters, no spaces: what a token in a header may be. */
export function isHeaderSafeToken(value: string): boolean {
  return /^[\x21-\x7e]+$/.test(value);
}
