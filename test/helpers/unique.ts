/**
 * Names no other test uses, in this process or another (suites run in
 * parallel against shared servers): the label, the process id, the time and
 * a counter, in lower case.
 */
let counter = 0;

export const uniqueName = (label: string): string =>
  `${label}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`.toLowerCase();

export const uniqueEmail = (label: string): string => `${uniqueName(label)}@example.com`;

/** A host name under .example (one DNS label per part). */
export const uniqueDomain = (label: string): string => `${uniqueName(label)}.example`;
