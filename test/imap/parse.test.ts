/**
 * Parsing and classifying what arrives in an inbox: replies, auto-replies,
 * RFC 3464 DSNs, plain-text bounces and RFC 5965 feedback reports (complaints),
 * from the raw message text.
 */
import { parseInbound } from '../../src/imap/parse.ts';
import { dsn, feedbackReport, newMessageId, qmailBounce, reply } from './mail-samples.ts';

const US = 'sales@acme.example';
const LEAD = 'ada@customer.example';

test('a reply: ids without brackets, References in order, sender, recipient, subject and text', async () => {
  const id = newMessageId();
  const mail = await parseInbound(Buffer.from(reply({
    from: `Ada Lovelace <${LEAD}>`, to: `Sam <${US}>`, subject: 'Re: Quick question', messageId: id,
    inReplyTo: 'b@acme.example', references: ['a@acme.example', 'b@acme.example'], body: 'Sounds good, call me Tuesday.\n\n> Hi Ada',
  })));
  expect(mail).toEqual({
    messageId: id,
    inReplyTo: 'b@acme.example',
    references: ['a@acme.example', 'b@acme.example'],
    from: LEAD,
    to: US,
    subject: 'Re: Quick question',
    text: 'Sounds good, call me Tuesday.\n\n> Hi Ada',
    classification: { kind: 'email' },
  });
});

test('a message without Message-ID gets a stable id of its content at .invalid', async () => {
  const raw = Buffer.from(reply({ from: LEAD, to: US, subject: 'Re: hi', messageId: null }));
  const first = await parseInbound(raw);
  expect(first.messageId).toMatch(/^[0-9a-f]{40}@no-message-id\.invalid$/);
  expect((await parseInbound(raw)).messageId).toBe(first.messageId);
});

describe('auto-replies', () => {
  const cases: Array<[string, Record<string, string>, string, string]> = [
    ['RFC 3834 Auto-Submitted', { 'Auto-Submitted': 'auto-replied' }, 'Re: Quick question', 'Auto-Submitted: auto-replied'],
    ['X-Autoreply', { 'X-Autoreply': 'yes' }, 'Re: Quick question', 'x-autoreply: yes'],
    ['Precedence: auto_reply', { Precedence: 'auto_reply' }, 'Re: Quick question', 'precedence: auto_reply'],
    ['Outlook "Automatic reply" subject', {}, 'Automatic reply: Quick question', 'subject: Automatic reply: Quick question'],
    ['"Out of Office" subject', {}, 'Out of Office: Re: Quick question', 'subject: Out of Office: Re: Quick question'],
    ['German Abwesenheitsnotiz', {}, 'Abwesenheitsnotiz: Quick question', 'subject: Abwesenheitsnotiz: Quick question'],
  ];
  test.each(cases)('%s', async (_name, headers, subject, reason) => {
    const mail = await parseInbound(Buffer.from(reply({ from: LEAD, to: US, subject, headers, inReplyTo: 'x@acme.example', body: 'I am away until Monday.' })));
    expect(mail.classification).toEqual({ kind: 'auto_reply', reason });
  });

  test('a person writing about the office, or Auto-Submitted: no, is a reply', async () => {
    for (const [subject, headers] of [['Re: out of office policy', {}], ['Re: Quick question', { 'Auto-Submitted': 'no' }]] as const) {
      const mail = await parseInbound(Buffer.from(reply({ from: LEAD, to: US, subject, headers, inReplyTo: 'x@acme.example' })));
      expect(mail.classification).toEqual({ kind: 'email' });
    }
  });
});

describe('bounces', () => {
  test('an RFC 3464 DSN with the original attached: recipient, status, diagnostic, MTAs, original Message-ID', async () => {
    const original = newMessageId('acme.example');
    const mail = await parseInbound(Buffer.from(dsn({
      to: US, recipient: LEAD, originalMessageId: original, status: '5.1.1',
      diagnostic: '550 5.1.1 <ada@customer.example>: Recipient address rejected: User unknown in virtual mailbox table',
    })));
    expect(mail.classification).toEqual({
      kind: 'bounce',
      dsn: {
        action: 'failed',
        status: '5.1.1',
        diagnostic_code: '550 5.1.1 <ada@customer.example>: Recipient address rejected: User unknown in virtual mailbox table',
        final_recipient: LEAD,
        original_message_id: original,
        remote_mta: 'mx.customer.example',
        reporting_mta: 'mx.acme.example',
        detected_by: 'dsn',
      },
    });
    expect(mail.from).toBe('mailer-daemon@mx.acme.example');
  });

  test('a delay report with only the original headers attached', async () => {
    const original = newMessageId('acme.example');
    const mail = await parseInbound(Buffer.from(dsn({
      to: US, recipient: LEAD, originalMessageId: original, action: 'delayed', status: '4.4.1',
      diagnostic: '421 4.4.1 mx.customer.example: Connection timed out', attach: 'headers',
    })));
    expect(mail.classification).toMatchObject({ kind: 'bounce', dsn: { action: 'delayed', status: '4.4.1', original_message_id: original } });
  });

  test('a qmail plain-text bounce: recipient, basic SMTP code and the quoted Message-ID', async () => {
    const original = newMessageId('acme.example');
    const mail = await parseInbound(Buffer.from(qmailBounce({ to: US, recipient: LEAD, originalMessageId: original, answer: '550 sorry, no mailbox here by that name' })));
    expect(mail.classification).toEqual({
      kind: 'bounce',
      dsn: {
        action: 'failed',
        status: '5.0.0',
        diagnostic_code: 'Remote host said: 550 sorry, no mailbox here by that name',
        final_recipient: LEAD,
        original_message_id: original,
        remote_mta: null,
        reporting_mta: null,
        detected_by: 'text',
      },
    });
  });

  test('a mailbox-full answer is a transient (4.x.x) failure', async () => {
    const mail = await parseInbound(Buffer.from(dsn({
      to: US, recipient: LEAD, originalMessageId: newMessageId(), status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full', attach: 'none',
    })));
    expect(mail.classification).toMatchObject({ kind: 'bounce', dsn: { action: 'failed', status: '4.2.2', original_message_id: null } });
  });
});

describe('feedback reports (complaints)', () => {
  test('an RFC 5965 report with the original attached: type, reporter, source and the reported Message-ID', async () => {
    const original = newMessageId('acme.example');
    const mail = await parseInbound(Buffer.from(feedbackReport({ to: 'fbl@acme.example', originalFrom: US, originalRecipient: LEAD, originalMessageId: original })));
    expect(mail.classification).toEqual({
      kind: 'complaint',
      report: {
        feedback_type: 'abuse',
        user_agent: 'Yahoo!-Mail-Feedback/2.0',
        original_mail_from: US,
        original_rcpt_to: LEAD,
        arrival_date: expect.stringMatching(/\+0000$/),
        source_ip: '203.0.113.10',
        reported_domain: 'acme.example',
        original_message_id: original,
        tracking_tokens: [],
        tracked_message_id: null,
      },
    });
  });

  test('only the original header attached, and a not-spam report, are read the same way', async () => {
    const original = newMessageId('acme.example');
    const headersOnly = await parseInbound(Buffer.from(feedbackReport({ to: US, originalFrom: US, originalRecipient: LEAD, originalMessageId: original, attach: 'headers' })));
    expect(headersOnly.classification).toMatchObject({ kind: 'complaint', report: { original_message_id: original } });
    const notSpam = await parseInbound(Buffer.from(feedbackReport({ to: US, originalFrom: US, originalRecipient: LEAD, originalMessageId: original, feedbackType: 'not-spam' })));
    expect(notSpam.classification).toMatchObject({ kind: 'complaint', report: { feedback_type: 'not-spam' } });
  });
});
