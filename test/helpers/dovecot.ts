/**
 * A real IMAP server for tests: Debian's dovecot-imapd, started by the test
 * in a temporary directory with its own configuration (passwd-file users,
 * maildir storage, no system integration), listening on 127.0.0.1 on a free
 * port with implicit TLS (a self-signed certificate made with openssl at
 * start) and, on a second port, plain IMAP with STARTTLS. Messages are placed
 * in mailboxes over IMAP APPEND (imapflow), as a mail server would deliver
 * them.
 *
 * Works as root (mail files belong to nobody) and as an ordinary user (every
 * dovecot process runs as that user).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { freePorts } from '../../src/db/embedded.ts';

const run = promisify(execFile);

export const DOVECOT_BINARY = '/usr/sbin/dovecot';
const DOVEADM_BINARY = '/usr/bin/doveadm';

/** Why IMAP tests cannot run here, or null when they can. */
export function dovecotMissingReason(): string | null {
  return existsSync(DOVECOT_BINARY) && existsSync(DOVEADM_BINARY)
    ? null
    : `${DOVECOT_BINARY} is not installed: the IMAP tests need Debian's dovecot-imapd (apt-get install -y dovecot-imapd; .ci/run installs it).`;
}

export interface DovecotServer {
  host: string;
  /** Implicit TLS port (IMAPS). */
  tlsPort: number;
  /** Plain IMAP port offering STARTTLS. */
  plainPort: number;
  /** The self-signed certificate (PEM) to trust. */
  ca: string;
  addUser(user: string, password: string): Promise<void>;
  /** Delivers a raw message to a user's mailbox (IMAP APPEND); returns its UID. */
  deliver(user: string, raw: string | Buffer, mailbox?: string): Promise<number>;
  /** UIDVALIDITY of a user's mailbox. */
  uidValidity(user: string, mailbox?: string): Promise<bigint>;
  /**
   * What happens when a mail store is rebuilt: the mailbox gets a new
   * UIDVALIDITY and its messages are numbered again from 1. Keeps the
   * messages whose Message-ID matches `keep`, drops the others.
   */
  rebuildMailbox(user: string, keep: (raw: string) => boolean): Promise<void>;
  stop(): Promise<void>;
}

async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile,
  ]);
  return { cert: certFile, key: keyFile };
}

export interface DovecotOptions {
  /**
   * Also accept OAuth 2.0 logins (XOAUTH2, OAUTHBEARER): dovecot's oauth2
   * passdb asks this RFC 7662 introspection endpoint (form POST) whether the
   * token is active and whose it is (`username`).
   */
  oauth2IntrospectionUrl?: string;
}

export async function startDovecot(options: DovecotOptions = {}): Promise<DovecotServer> {
  const missing = dovecotMissingReason();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pm-dovecot-'));
  await chmod(dir, 0o755); // dovecot's own processes read the configuration and the passwd files
  const [tlsPort, plainPort] = (await freePorts(2)) as [number, number];
  // One passwd-file per user: a new file is read at once, while an edited
  // shared file may be served from dovecot's copy for up to a second.
  const users = path.join(dir, 'users');
  const mailRoot = path.join(dir, 'mail');
  await Promise.all(['run', 'state', 'mail', 'users'].map((d) => mkdir(path.join(dir, d))));
  const { cert, key } = await selfSignedCertificate(dir);

  const me = os.userInfo();
  const root = me.uid === 0;
  // As root, dovecot drops privileges to its own users and stores mail as nobody.
  const mailUid = root ? 65534 : me.uid;
  const mailGid = root ? 65534 : me.gid;
  if (root) await chown(mailRoot, mailUid, mailGid);
  const config = path.join(dir, 'dovecot.conf');
  const oauth2Args = path.join(dir, 'dovecot-oauth2.conf.ext');
  if (options.oauth2IntrospectionUrl) {
    await writeFile(oauth2Args, `introspection_mode = post
introspection_url = ${options.oauth2IntrospectionUrl}
username_attribute = username
active_attribute = active
active_value = true
`);
  }
  // Tried first: a password that is no active token fails there and goes on to the passwd-file.
  const oauth2Passdb = options.oauth2IntrospectionUrl ? `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${oauth2Args}
}
` : '';
  await writeFile(
    config,
    `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <${cert}
ssl_key = <${key}
disable_plaintext_auth = yes
auth_mechanisms = plain login${options.oauth2IntrospectionUrl ? ' xoauth2 oauthbearer' : ''}
auth_failure_delay = 0
default_login_user = ${root ? 'dovenull' : me.username}
default_internal_user = ${root ? 'dovecot' : me.username}
default_internal_group = ${root ? 'dovecot' : (await run('id', ['-gn'])).stdout.trim()}
first_valid_uid = 1
${oauth2Passdb}passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${users}/%u
}
userdb {
  driver = static
  args = uid=${mailUid} gid=${mailGid} home=${mailRoot}/%u
}
mail_location = maildir:~/Maildir
# No chroot: an unprivileged dovecot cannot chroot, and a test server needs no jail.
service anvil {
  chroot =
  # No auth penalty (a growing delay for every login from an IP after a failed one).
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${plainPort}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${tlsPort}
    ssl = yes
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`,
  );

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(DOVECOT_BINARY, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      // The master forks into the background and exits 0 once it listens.
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dovecot did not start (exit ${code}): ${stderr.trim()}`))));
    });
  const stopServer = async () => {
    const pidFile = path.join(dir, 'run', 'master.pid');
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!pid) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    await unlink(pidFile).catch(() => undefined);
  };
  await start();

  const ca = await readFile(cert, 'utf8');
  const passwords = new Map<string, string>();
  const connect = async (user: string) => {
    const password = passwords.get(user);
    if (password === undefined) throw new Error(`no dovecot user ${user}`);
    const client = new ImapFlow({ host: '127.0.0.1', port: tlsPort, secure: true, tls: { ca }, auth: { user, pass: password }, logger: false });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const doveadm = (...args: string[]) => run(DOVEADM_BINARY, ['-c', config, ...args]);
  const uidValidity = async (user: string, mailbox = 'INBOX') => {
    const { stdout } = await doveadm('mailbox', 'status', '-u', user, 'uidvalidity', mailbox);
    return BigInt(/uidvalidity=(\d+)/.exec(stdout)![1]!);
  };

  return {
    host: '127.0.0.1',
    tlsPort,
    plainPort,
    ca,
    async addUser(user, password) {
      if (passwords.has(user) || !/^[\w.+-]+@[\w.-]+$/.test(user)) throw new Error(`cannot add dovecot user ${user}`);
      passwords.set(user, password);
      await writeFile(path.join(users, user), `${user}:{PLAIN}${password}\n`);
    },
    async deliver(user, raw, mailbox = 'INBOX') {
      const client = await connect(user);
      try {
        const appended = await client.append(mailbox, raw, [], new Date());
        if (!appended || appended.uid === undefined) throw new Error('APPEND returned no UID');
        return appended.uid;
      } finally {
        await client.logout();
      }
    },
    uidValidity,
    async rebuildMailbox(user, keep) {
      const before = await uidValidity(user);
      await stopServer();
      const maildir = path.join(mailRoot, user, 'Maildir');
      for (const sub of ['cur', 'new']) {
        for (const file of await readdir(path.join(maildir, sub))) {
          if (!keep(await readFile(path.join(maildir, sub, file), 'utf8'))) await unlink(path.join(maildir, sub, file));
        }
      }
      // Dovecot's UID list and indexes are what numbers the messages: without them it starts over.
      for (const file of await readdir(maildir)) {
        if (file.startsWith('dovecot')) await rm(path.join(maildir, file), { recursive: true, force: true });
      }
      await start();
      // A fresh UIDVALIDITY is derived from the clock; make sure it differs even within the same second.
      if ((await uidValidity(user)) === before) {
        await doveadm('mailbox', 'update', '-u', user, '--uid-validity', String(before + 1n), 'INBOX');
      }
    },
    async stop() {
      await stopServer();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
