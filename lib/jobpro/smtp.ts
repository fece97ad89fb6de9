/**
 * A small SMTP client (RFC 5321) on Deno's TCP and TLS, for alert emails:
 * one message per connection, STARTTLS whenever the server offers it (or
 * TLS from the start with `smtps://`), AUTH PLAIN or LOGIN when the URL
 * has a user, and a deadline on the whole exchange.
 *
 * @example
 * ```ts
 * const smtp = parseSmtpUrl("smtp://user:secret@mail.example:587", "jobpro@example.com");
 * await sendMail(smtp, { to: "ops@example.com", subject: "hi", text: "hello" });
 * ```
 * @module
 */

/** Where and how to send. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (`smtps://`); otherwise STARTTLS when offered. */
  tls: boolean;
  user: string | null;
  pass: string | null;
  /** The sender address (JOBPRO_NOTIFY_FROM). */
  from: string;
  /** Extra CA certificates (PEM) to trust, for a server with its own. */
  caCerts?: string[];
  /** The whole exchange must end within this (default 30 s). */
  timeoutMs?: number;
}

/** One message. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/**
 * Settings from JOBPRO_SMTP_URL (`smtp://user:pass@host:port`, or
 * `smtps://`); throws naming what is wrong, never echoing the password.
 *
 * @example
 * ```ts
 * parseSmtpUrl("smtp://mail.example", "jobpro@example.com").port; // 25
 * ```
 */
export function parseSmtpUrl(raw: string, from: string): SmtpSettings {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error("JOBPRO_SMTP_URL does not parse as a URL");
  }
  if (u.protocol !== "smtp:" && u.protocol !== "smtps:") {
    throw new Error("JOBPRO_SMTP_URL must start with smtp:// or smtps://");
  }
  if (!u.hostname) throw new Error("JOBPRO_SMTP_URL names no host");
  const tls = u.protocol === "smtps:";
  return {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : tls ? 465 : 25,
    tls,
    user: u.username ? decodeURIComponent(u.username) : null,
    pass: u.password ? decodeURIComponent(u.password) : null,
    from,
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads CRLF-terminated replies from a connection. */
class Replies {
  #buf = "";
  constructor(private conn: Deno.Conn) {}

  swap(conn: Deno.Conn) {
    this.conn = conn;
    this.#buf = "";
  }

  async #line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf("\r\n");
      if (i >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 2);
        return line;
      }
      const chunk = new Uint8Array(4096);
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("the SMTP server closed the connection");
      this.#buf += dec.decode(chunk.subarray(0, n));
      if (this.#buf.length > 64_000) throw new Error("SMTP reply too long");
    }
  }

  /** One reply (all its lines); throws unless its code starts with `expect`. */
  async read(expect: string, what: string): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.#line();
      lines.push(line);
      if (line[3] !== "-") break;
    }
    const last = lines[lines.length - 1];
    if (!last.startsWith(expect)) {
      throw new Error(`SMTP ${what}: ${lines.join(" ").slice(0, 300)}`);
    }
    return lines.map((l) => l.slice(4));
  }
}

async function write(conn: Deno.Conn, text: string) {
  const bytes = enc.encode(text);
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
}

/** A header's text: one line, non-ASCII as an RFC 2047 encoded word. */
function headerText(s: string): string {
  const line = s.replace(/[\r\n\t]+/g, " ").slice(0, 200);
  if (/^[\x20-\x7e]*$/.test(line)) return line;
  const b64 = btoa(String.fromCharCode(...enc.encode(line)));
  return `=?utf-8?B?${b64}?=`;
}

/** The message as sent after DATA: headers, body, dot-stuffed, CRLF. */
export function formatMessage(from: string, mail: Mail, now = new Date()) {
  // deno-lint-ignore no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(mail.text);
  const body = ascii
    ? mail.text.replace(/\r?\n/g, "\r\n")
    : btoa(String.fromCharCode(...enc.encode(mail.text))).replace(
      /.{76}/g,
      "$&\r\n",
    );
  const headers = [
    `From: ${from}`,
    `To: ${mail.to}`,
    `Subject: ${headerText(mail.subject)}`,
    `Date: ${now.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${crypto.randomUUID()}@jobpro>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Transfer-Encoding: ${ascii ? "7bit" : "base64"}`,
  ];
  const text = `${headers.join("\r\n")}\r\n\r\n${body}`;
  return text.replace(/^\./gm, "..") + "\r\n.\r\n";
}

/** The exchange on an open connection: EHLO, STARTTLS, AUTH, the message. */
async function converse(
  first: Deno.Conn,
  s: SmtpSettings,
  mail: Mail,
  track: (c: Deno.Conn) => void,
) {
  let conn = first;
  const r = new Replies(conn);
  const say = async (line: string, expect: string, what = line) => {
    await write(conn, `${line}\r\n`);
    return await r.read(expect, what.split(" ")[0]);
  };
  await r.read("220", "greeting");
  let caps = await say("EHLO jobpro", "250");
  let secure = s.tls;
  if (!s.tls && caps.some((c) => /^STARTTLS\b/i.test(c))) {
    await say("STARTTLS", "220");
    conn = await Deno.startTls(conn as Deno.TcpConn, {
      hostname: s.host,
      caCerts: s.caCerts,
    });
    track(conn);
    r.swap(conn);
    secure = true;
    caps = await say("EHLO jobpro", "250");
  }
  if (s.user !== null) {
    // The password goes only over TLS (smtps, or after STARTTLS).
    if (!secure) {
      throw new Error(
        "the SMTP server offers no STARTTLS; refusing to send the password in clear",
      );
    }
    const auth = caps.find((c) => /^AUTH\b/i.test(c))?.toUpperCase() ?? "";
    if (!auth.includes("PLAIN") && auth.includes("LOGIN")) {
      await say("AUTH LOGIN", "334");
      await say(btoa(s.user), "334", "AUTH user");
      await say(btoa(s.pass ?? ""), "235", "AUTH password");
    } else {
      const token = btoa(`\0${s.user}\0${s.pass ?? ""}`);
      await say(`AUTH PLAIN ${token}`, "235", "AUTH");
    }
  }
  await say(`MAIL FROM:<${s.from}>`, "250");
  await say(`RCPT TO:<${mail.to}>`, "25");
  await say("DATA", "354");
  await write(conn, formatMessage(s.from, mail));
  await r.read("250", "message");
  await write(conn, "QUIT\r\n").catch(() => {});
}

/**
 * Sends one message; resolves once the server accepted it, throws with the
 * server's reply otherwise, or when `timeoutMs` (or `signal`) ends it.
 *
 * @example
 * ```ts
 * await sendMail(smtp, { to: "ops@example.com", subject: "Job failed", text: "..." });
 * ```
 */
export async function sendMail(
  s: SmtpSettings,
  mail: Mail,
  signal?: AbortSignal,
): Promise<void> {
  const ms = s.timeoutMs ?? 30_000;
  // The deadline (and the signal) bound the whole exchange, the connect too.
  const at: { conn: Deno.Conn | null; ended: Error | null } = {
    conn: null,
    ended: null,
  };
  let fail = (_: Error) => {};
  const ended = new Promise<never>((_, reject) => fail = reject);
  ended.catch(() => {});
  const close = () => {
    try {
      at.conn?.close();
    } catch { /* closed already */ }
  };
  const end = (e: Error) => {
    at.ended ??= e;
    fail(e);
    close();
  };
  const onAbort = () => end(new Error("SMTP: aborted"));
  const timer = setTimeout(
    () => end(new Error(`SMTP: no answer within ${ms} ms`)),
    ms,
  );
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    const connecting = s.tls
      ? Deno.connectTls({
        hostname: s.host,
        port: s.port,
        caCerts: s.caCerts,
      })
      : Deno.connect({ hostname: s.host, port: s.port });
    // A connect that ends after the deadline is closed at once.
    connecting.then((c) => {
      if (at.ended) {
        try {
          c.close();
        } catch { /* closed already */ }
      }
    }, () => {});
    const conn = await Promise.race([connecting, ended]);
    at.conn = conn;
    if (at.ended) throw at.ended;
    await converse(conn, s, mail, (c) => at.conn = c);
  } catch (e) {
    if (at.ended) throw at.ended;
    throw e instanceof Deno.errors.BadResource ||
        e instanceof Deno.errors.Interrupted
      ? new Error(`SMTP: no answer within ${ms} ms`)
      : e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    close();
  }
}
