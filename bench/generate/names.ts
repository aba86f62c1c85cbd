/** Word lists for realistic-looking generated people, companies and content. */

export const FIRST_NAMES = [
  'Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Edsger', 'Frances', 'Donald', 'Radia', 'Alan', 'Hedy',
  'John', 'Katherine', 'Tim', 'Sophie', 'Guido', 'Anita', 'Bjarne', 'Joan', 'Dennis', 'Shafi', 'Yukihiro', 'Lynn',
  'Niklaus', 'Fran', 'Leslie', 'Adele', 'Brian', 'Evelyn', 'Robin', 'Mary', 'Satoshi', 'Ivan', 'Carol', 'Rasmus',
] as const;

export const LAST_NAMES = [
  'Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Dijkstra', 'Allen', 'Knuth', 'Perlman',
  'Turing', 'Lamarr', 'Backus', 'Johnson', 'Berners-Lee', 'Wilson', 'Rossum', 'Borg', 'Stroustrup', 'Clarke',
  'Ritchie', 'Goldwasser', 'Matsumoto', 'Conway', 'Wirth', 'Lamport', 'Goldberg', 'Kernighan', 'Boyd', 'Milner',
] as const;

export const COMPANIES = [
  'Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Litware', 'Adventure Works', 'Proseware', 'Wingtip', 'Fourth Coffee',
  'Alpine Ski', 'Blue Yonder', 'Coho Winery', 'Datum', 'Graphic Design', 'Humongous', 'Lucerne', 'Margie Travel',
  'Relecloud', 'Southridge', 'Trey Research', 'VanArsdel', 'Woodgrove', 'Wide World', 'Bellows', 'Consolidated',
] as const;

export const TITLES = ['CTO', 'CEO', 'Founder', 'Head of Sales', 'VP Marketing', 'Engineering Manager', 'Head of Growth', 'COO', 'Procurement Lead', 'Product Manager'] as const;

export const TIMEZONES = ['Europe/Paris', 'Europe/London', 'America/New_York', 'America/Los_Angeles', 'America/Chicago', 'Asia/Tokyo', 'Australia/Sydney', 'Europe/Berlin'] as const;

export const INDUSTRIES = ['saas', 'retail', 'finance', 'healthcare', 'logistics', 'education', 'manufacturing', 'media'] as const;

export const TIERS = ['gold', 'silver', 'bronze'] as const;

export const SOURCES = ['import', 'api', 'website', 'conference', 'referral'] as const;

export const SUBJECTS = [
  'Quick question, {{ lead.first_name | default: "there" }}',
  '{{ lead.company }} and outbound at scale',
  'Worth a chat, {{ lead.first_name | default: "there" }}?',
  'Idea for {{ lead.company }}',
  'Following up',
  'Last note from me',
  'A case study for {{ lead.custom.industry }} teams',
  'Re: your pipeline in Q3',
] as const;

export const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726)',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
] as const;

export const REPLIES = [
  'Thanks for reaching out. Can we talk next Tuesday?',
  'Not interested at the moment, please check back next quarter.',
  'Please remove me from your list.',
  'Interesting. Could you send pricing?',
  'I am out of office until Monday.',
] as const;

/** A lower-case DNS label from a name ("Fourth Coffee" → "fourthcoffee"). */
export function label(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}
