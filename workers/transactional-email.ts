/**
 * Emails the platform sends on behalf of the auth functions: sign-up
 * confirmations, invitations, password resets and email confirmations. The SQL function queues the job with the single-use token;
 * this task looks up the rest (who invited, which organisation) and sends it.
 * Names users typed (organisation, inviter) appear only quoted and attributed
 * (quoteUserText), next to the inviter's email address, never as the
 * platform's own words; the subject names nobody.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { quoteUserText } from '../src/mail/system-mailer.ts';
import type { TaskDeps } from '../src/worker/context.ts';

const InvitationPayload = z.object({ tenant_id: z.uuid(), invitation_id: z.uuid(), token: z.string().min(20) });
const PasswordResetPayload = z.object({ user_id: z.uuid(), token: z.string().min(20) });
const EmailVerificationPayload = z.object({ user_id: z.uuid(), token: z.string().min(20) });
const RegistrationPayload = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('confirm'), email: z.string().min(3), token: z.string().min(20) }),
  z.object({ kind: z.literal('existing_account'), email: z.string().min(3) }),
]);

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function sendInvitationEmail(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = InvitationPayload.parse(rawPayload);
    const { rows } = await helpers.query<{ email: string; tenant_name: string; inviter_name: string | null; inviter_email: string | null; expires_at: Date; open: boolean }>(
      `select i.email::text, t.name as tenant_name, u.name as inviter_name, u.email::text as inviter_email, i.expires_at,
              (i.accepted_at is null and i.revoked_at is null and i.expires_at > now()) as open
       from app_public.invitations i
       join app_public.tenants t on t.id = i.tenant_id
       left join app_public.users u on u.id = i.invited_by
       where i.tenant_id = $1 and i.id = $2`,
      [payload.tenant_id, payload.invitation_id],
    );
    const invitation = rows[0];
    if (!invitation?.open) {
      helpers.logger.info(`invitation ${payload.invitation_id} is no longer open; not sending`);
      return;
    }
    const link = `${deps.appUrl}/accept-invitation?token=${encodeURIComponent(payload.token)}`;
    const organisation = quoteUserText(invitation.tenant_name);
    const inviter = invitation.inviter_email
      ? `${invitation.inviter_name ? `${quoteUserText(invitation.inviter_name)} ` : ''}<${invitation.inviter_email}>`
      : 'a member of the organisation';
    const expires = invitation.expires_at.toISOString().slice(0, 10);
    const note = 'Names in quotation marks are shown as their owners typed them; PenguinMails does not check them.';
    await deps.systemMailer.send({
      to: invitation.email,
      subject: 'You are invited to an organisation on PenguinMails',
      text: `You are invited to join the organisation ${organisation} on PenguinMails.\nInvited by: ${inviter}\n\nAccept the invitation: ${link}\n\nThe link expires on ${expires}.\n\n${note}`,
      html: `<p>You are invited to join the organisation <strong>${escapeHtml(organisation)}</strong> on PenguinMails.</p><p>Invited by: ${escapeHtml(inviter)}</p><p><a href="${escapeHtml(link)}">Accept the invitation</a></p><p>The link expires on ${expires}.</p><p style="color:#888888;font-size:12px">${escapeHtml(note)}</p>`,
    });
  };
}

export function sendPasswordResetEmail(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = PasswordResetPayload.parse(rawPayload);
    // No name in this email: it goes to whoever owns the address, whatever the account's name says.
    const { rows } = await helpers.query<{ email: string }>(
      `select email::text from app_public.users where id = $1 and deleted_at is null`,
      [payload.user_id],
    );
    const user = rows[0];
    if (!user) return;
    const link = `${deps.appUrl}/reset-password?token=${encodeURIComponent(payload.token)}`;
    await deps.systemMailer.send({
      to: user.email,
      subject: 'Reset your PenguinMails password',
      text: `Hello,\n\nSomeone (hopefully you) asked to reset your password. Choose a new one here within the hour: ${link}\n\nIf it was not you, ignore this email; your password stays as it is.`,
      html: `<p>Hello,</p><p>Someone (hopefully you) asked to reset your password. <a href="${escapeHtml(link)}">Choose a new one</a> within the hour.</p><p>If it was not you, ignore this email; your password stays as it is.</p>`,
    });
  };
}

/** After requestEmailVerification: a link that confirms the account's address (functions/053-two-factor.sql). */
export function sendEmailVerificationEmail(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = EmailVerificationPayload.parse(rawPayload);
    const { rows } = await helpers.query<{ email: string }>(
      `select email::text from app_public.users where id = $1 and deleted_at is null and email_verified_at is null`,
      [payload.user_id],
    );
    const user = rows[0];
    if (!user) return; // gone, or confirmed meanwhile
    const link = `${deps.appUrl}/verify-email?token=${encodeURIComponent(payload.token)}`;
    await deps.systemMailer.send({
      to: user.email,
      subject: 'Confirm your email address on PenguinMails',
      text: `Hello,\n\nConfirm that this address is yours within 24 hours: ${link}\n\nIf you did not ask for this, ignore this email.`,
      html: `<p>Hello,</p><p><a href="${escapeHtml(link)}">Confirm that this address is yours</a> within 24 hours.</p><p>If you did not ask for this, ignore this email.</p>`,
    });
  };
}

/**
 * After `register`: a confirmation link for a new address, or, for an address
 * that already has an account, a note saying so (the API gives both the same
 * answer, so only the mailbox's owner learns which).
 */
export function sendRegistrationEmail(deps: TaskDeps): Task {
  return async (rawPayload) => {
    const payload = RegistrationPayload.parse(rawPayload);
    const app = deps.appUrl;
    if (payload.kind === 'confirm') {
      const link = `${app}/confirm-registration?token=${encodeURIComponent(payload.token)}`;
      await deps.systemMailer.send({
        to: payload.email,
        subject: 'Confirm your PenguinMails sign-up',
        text: `Hello,\n\nConfirm your email address to finish creating your PenguinMails account (the link is valid for 24 hours): ${link}\n\nIf you did not sign up, ignore this email; no account is created.`,
        html: `<p>Hello,</p><p><a href="${escapeHtml(link)}">Confirm your email address</a> to finish creating your PenguinMails account (the link is valid for 24 hours).</p><p>If you did not sign up, ignore this email; no account is created.</p>`,
      });
      return;
    }
    const signIn = `${app}/sign-in`;
    const reset = `${app}/forgot-password`;
    await deps.systemMailer.send({
      to: payload.email,
      subject: 'You already have a PenguinMails account',
      text: `Hello,\n\nSomeone (hopefully you) tried to sign up with this address, which already has a PenguinMails account. Sign in: ${signIn}\nForgot your password? ${reset}\n\nIf it was not you, ignore this email; nothing changed.`,
      html: `<p>Hello,</p><p>Someone (hopefully you) tried to sign up with this address, which already has a PenguinMails account. <a href="${escapeHtml(signIn)}">Sign in</a>, or <a href="${escapeHtml(reset)}">reset your password</a> if you forgot it.</p><p>If it was not you, ignore this email; nothing changed.</p>`,
    });
  };
}
