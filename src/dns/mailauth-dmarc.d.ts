/** Types for the part of mailauth's DMARC module the DMARC check uses (the package ships none for it). */
declare module 'mailauth/lib/dmarc/get-dmarc-record.js' {
  type Resolver = (name: string, rrtype: string) => Promise<unknown>;
  interface ParsedDmarcRecord {
    v?: string;
    p?: string;
    sp?: string;
    np?: string;
    rua?: string;
    /** The record as published. */
    rr: string;
    /** Set by getDmarcRecord: the record is inherited from the organisational domain. */
    isOrgRecord?: boolean;
    recordDomain?: string;
    orgDomain?: string;
    [tag: string]: unknown;
  }
  function getDmarcRecord(domain: string, resolver?: Resolver, opts?: { strict?: boolean }): Promise<ParsedDmarcRecord | false>;
  namespace getDmarcRecord {
    function parseDmarcRecord(txt: string, opts?: { strict?: boolean; warnings?: Set<string> }): ParsedDmarcRecord | null;
    function getPolicyTags(record: ParsedDmarcRecord): { p: string; sp?: string; np?: string } | null;
  }
  export = getDmarcRecord;
}
