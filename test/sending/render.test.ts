/**
 * Rendering tenant-written templates: deterministic spintax, Liquid locked
 * down (no file access, no prototype walking, unknown variables are errors
 * naming the template and part), fallbacks, escaping, the generated text
 * part, tracking markup. (Choosing an A/B variant is the database's:
 * test/db/variants.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import { renderMessage, TemplateRenderError } from '../../src/sending/render.ts';
import type { RenderInput } from '../../src/sending/render-input.ts';
import { resolveSpintax, seededRandom } from '../../src/sending/spintax.ts';
import { htmlToText } from '../../src/sending/html-text.ts';
import { makeTrackingTokens, trackingKeyFrom } from '../../src/tracking/tokens.ts';


const tracking = makeTrackingTokens(trackingKeyFrom('ab'.repeat(32)));
const options = { publicUrl: 'https://t.example.test', tracking };

function input(overrides: { template?: Partial<RenderInput['template']>; lead?: Partial<RenderInput['lead']>; campaign?: Partial<RenderInput['campaign']> } = {}): RenderInput {
  return {
    tenantId: randomUUID(),
    messageId: randomUUID(),
    step: { id: '11111111-1111-4111-8111-111111111111', order: 1, subjectOverride: null },
    template: { id: randomUUID(), name: 'Intro', subject: 'Hello {{ lead.first_name }}', html: '<p>Hi {{ lead.first_name }}</p>', text: null, variables: [], ...overrides.template },
    variant: null,
    campaign: { id: randomUUID(), name: 'Spring', trackOpens: false, trackClicks: false, includeUnsubscribeLink: false, ...overrides.campaign },
    lead: {
      id: '22222222-2222-4222-8222-222222222222', email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', name: 'Ada Lovelace',
      company: 'Analytical & Co <Ltd>', title: null, phone: null, website: null, timezone: null, custom: { industry: null }, ...overrides.lead,
    },
    sender: { emailAccountId: randomUUID(), email: 'sam@sender.example', name: 'Sam Smith' },
  };
}

const renderError = (i: RenderInput) => {
  try {
    renderMessage(i, options);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateRenderError);
    return (error as Error).message;
  }
  throw new Error('expected the template to fail');
};

describe('spintax', () => {
  test('the same seed always picks the same options; other seeds vary', () => {
    const text = '{Hi|Hello|Hey} {there|friend}, {a|b|c|d|e|f|g|h}';
    const once = resolveSpintax(text, seededRandom('step:lead'));
    expect(resolveSpintax(text, seededRandom('step:lead'))).toBe(once);
    const seen = new Set(Array.from({ length: 40 }, (_, i) => resolveSpintax(text, seededRandom(`step:lead-${i}`))));
    expect(seen.size).toBeGreaterThan(10);
    for (const s of seen) expect(s).toMatch(/^(Hi|Hello|Hey) (there|friend), [a-h]$/);
  });

  test('Liquid tags, filters with pipes, CSS and unterminated braces are left alone; groups nest', () => {
    const random = seededRandom('x');
    expect(resolveSpintax('{{ lead.name | default: "a|b" }} {% if x %}{y|y}{% endif %}', random)).toBe('{{ lead.name | default: "a|b" }} {% if x %}y{% endif %}');
    expect(resolveSpintax('p { color: red } a{b}', random)).toBe('p { color: red } a{b}');
    expect(resolveSpintax('open { brace', random)).toBe('open { brace');
    expect(resolveSpintax('{x|{y|y}}', seededRandom('nest'))).toMatch(/^(x|y)$/);
  });
});

describe('Liquid, locked down', () => {
  test('variables, fallbacks (lead, custom and sender), the default filter, and HTML escaping only in the HTML part', () => {
    const rendered = renderMessage(input({
      template: {
        subject: '{{ lead.company }} x {{ sender.first_name }}',
        html: '<p>{{ lead.company }} / {{ lead.custom.industry }} / {{ lead.title | default: "your team" }} / {{ campaign.name }}</p>',
        text: 'Hi {{ lead.first_name }} from {{ lead.company }}, {{ lead.custom.industry }}',
        variables: [{ name: 'custom.industry', fallback: 'software' }, { name: 'first_name', fallback: 'there' }],
      },
      lead: { first_name: '' },
    }), options);
    expect(rendered.subject).toBe('Analytical & Co <Ltd> x Sam');
    expect(rendered.html).toBe('<p>Analytical &amp; Co &lt;Ltd&gt; / software / your team / Spring</p>');
    expect(rendered.text).toBe('Hi there from Analytical & Co <Ltd>, software');
  });

  test('unknown variables, prototype walking, file includes and runaway loops are clear errors', () => {
    expect(renderError(input({ template: { html: '<p>{{ lead.frist_name }}</p>' } })))
      .toBe('Template "Intro" (HTML body) cannot be rendered: undefined variable: lead.frist_name, line:1, col:7.');
    expect(renderError(input({ template: { subject: 'Hi {{ lead.custom.unknown_field }}' } })))
      .toBe('Template "Intro" (subject) cannot be rendered: undefined variable: lead.custom.unknown_field, line:1, col:7.');
    expect(renderError(input({ template: { html: '{{ lead.constructor.name }}' } }))).toMatch(/undefined variable: lead\.constructor/);
    expect(renderError(input({ template: { html: '{% include "package.json" %}' } }))).toMatch(/^Template "Intro" \(HTML body\) cannot be rendered: .*package\.json/);
    expect(renderError(input({ template: { html: '{% render "/etc/passwd" %}' } }))).toMatch(/cannot be rendered/);
    expect(renderError(input({ template: { html: '{{ lead.email | no_such_filter }}' } }))).toMatch(/undefined filter: no_such_filter/);
    expect(renderError(input({ template: { html: '{% for i in (1..100000000) %}{% for j in (1..100000000) %}x{% endfor %}{% endfor %}' } })))
      .toMatch(/cannot be rendered: .*(limit|exceeded)/i);
  });

  test('a required variable without value or fallback, a bad variables list, a missing subject are refused', () => {
    expect(renderError(input({ template: { variables: [{ name: 'title', required: true }] } })))
      .toBe('Template "Intro" needs lead.title, which is empty for ada@example.com and has no fallback.');
    expect(renderError(input({ template: { variables: ['first_name'] } })))
      .toBe('Template "Intro": variable #1 must be {"name": "...", "fallback": "..."}; got "first_name".');
    expect(renderError(input({ template: { subject: '  ' } }))).toBe('Step 1: template "Intro" has no subject and the step sets none.');
  });
});

describe('parts and tracking', () => {
  test('without a text body the text part is generated from the HTML', () => {
    expect(htmlToText('<html><head><style>p{}</style><title>x</title></head><body><h1>Title</h1><p>One&nbsp;&amp; two<br>three</p>'
      + '<ul><li>a</li><li>b</li></ul><p><a href="https://e.example/x">the link</a> and <a href="https://e.example/y">https://e.example/y</a></p></body></html>'))
      .toBe('Title\n\nOne & two\nthree\n\n- a\n- b\n\nthe link (https://e.example/x) and https://e.example/y');
  });

  test('click tracking, the open pixel and the unsubscribe link follow the campaign settings', () => {
    const html = '<html><body><p><a href="https://example.com/a?b=1&amp;c=2">x</a> <a href="mailto:me@example.com">mail</a> <a href="#top">top</a></p></body></html>';
    const plain = renderMessage(input({ template: { html } }), options);
    expect(plain.html).toBe(html);
    expect(plain.text).not.toContain('Unsubscribe');

    const tracked = renderMessage(input({ template: { html }, campaign: { trackOpens: true, trackClicks: true, includeUnsubscribeLink: true } }), options);
    expect(tracked.html).toMatch(/<a href="https:\/\/t\.example\.test\/t\/c\/[^"]+\?u=https%3A%2F%2Fexample\.com%2Fa%3Fb%3D1%26c%3D2&amp;s=[^"]+">x<\/a>/);
    expect(tracked.html).toContain('<a href="mailto:me@example.com">mail</a> <a href="#top">top</a>');
    expect(tracked.html).toContain(`<a href="${tracked.unsubscribeUrl}">Unsubscribe</a>`);
    expect(tracked.html).toMatch(/<img src="https:\/\/t\.example\.test\/t\/o\/[^"]+\.gif"[^>]*\/><\/body>/);
    expect(tracked.text).toBe(`x (https://example.com/a?b=1&c=2) mail (mailto:me@example.com) top\n\n--\nUnsubscribe: ${tracked.unsubscribeUrl}`);

    // A template that places the unsubscribe link itself gets no second one.
    const own = renderMessage(input({
      template: { html: '<p><a href="{{ unsubscribe_url }}">Stop these</a></p>', text: 'Stop: {{ unsubscribe_url }}' },
      campaign: { includeUnsubscribeLink: true, trackClicks: true },
    }), options);
    expect(own.html.match(/Unsubscribe|Stop these/g)).toEqual(['Stop these']);
    expect(own.html).toContain(`href="${own.unsubscribeUrl}"`);
    expect(own.text).toBe(`Stop: ${own.unsubscribeUrl}`);
  });
});
