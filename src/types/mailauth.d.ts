/**
 * mailauth ships types for its main module but not for lib/tools.js, whose getAlignment()
 * is the same relaxed/strict alignment (organizational domain from the Public Suffix List,
 * RFC 7489 §3.2) that its DMARC check uses. We use it so that our own alignment checks
 * agree with mailauth's to the letter.
 */
declare module 'mailauth/lib/tools.js' {
  /** The first entry of `domains` in the same organizational domain as `fromDomain`, or false. */
  export function getAlignment(fromDomain: string, domains: ReadonlyArray<string | { domain: string }>): { domain: string } | false;
}

// The verifiers behind authenticate(), typed as the main module types them.
declare module 'mailauth/lib/dkim/verify.js' {
  export { dkimVerify } from 'mailauth';
}
declare module 'mailauth/lib/spf/index.js' {
  export { spf } from 'mailauth';
}
declare module 'mailauth/lib/dmarc/index.js' {
  export { dmarc } from 'mailauth';
}
