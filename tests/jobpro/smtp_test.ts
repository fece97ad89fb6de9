/**
 * The SMTP client (lib/jobpro/smtp.ts) and email alerts against a real
 * local SMTP server (npm smtp-server): a plain session with AUTH PLAIN, a
 * server that requires STARTTLS with a certificate this test makes (a CA
 * and a leaf for localhost, by npm node-forge), a refused recipient,
 * and a failed run's alert email sent by a real jobpro through
 * JOBPRO_SMTP_URL. Waits poll with a deadline; no sleeps.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { SMTPServer } from "smtp-server";
import forge from "node-forge";
import { parseSmtpUrl, sendMail } from "@/lib/jobpro/smtp.ts";
import {
  call,
  localServer,
  manualJob,
  waitFor,
  withServer,
} from "../api/helpers.ts";

interface Received {
  from: string;
  to: string[];
  raw: string;
  secure: boolean;
  user: string | null;
}

/** A real SMTP server on a random port, keeping what it receives. */
async function smtpServer(opts: Record<string, unknown> = {}) {
  const got: Received[] = [];
  /** AUTH attempts the server saw. */
  const auths: string[] = [];
  const options: Record<string, unknown> = {
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    allowInsecureAuth: true,
    onAuth(
      auth: { username: string; password: string },
      _s: unknown,
      cb: (e: Error | null, r?: { user: string }) => void,
    ) {
      auths.push(auth.username);
      if (auth.username === "jobpro" && auth.password === "s3cret") {
        return cb(null, { user: auth.username });
      }
      cb(new Error("bad credentials"));
    },
    onRcptTo(
      addr: { address: string },
      _s: unknown,
      cb: (e?: Error | null) => void,
    ) {
      if (addr.address.startsWith("nobody@")) {
        return cb(new Error("no such mailbox"));
      }
      cb();
    },
    onData(
      stream: AsyncIterable<Uint8Array>,
      session: {
        secure: boolean;
        user?: string;
        envelope: {
          mailFrom: { address: string };
          rcptTo: { address: string }[];
        };
      },
      cb: (e?: Error | null) => void,
    ) {
      (async () => {
        const chunks: Uint8Array[] = [];
        for await (const c of stream) chunks.push(c);
        got.push({
          from: session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: new TextDecoder().decode(
            new Uint8Array(chunks.flatMap((c) => [...c])),
          ),
          secure: session.secure,
          user: session.user ?? null,
        });
        cb();
      })();
    },
    ...opts,
  };
  const server = new SMTPServer(
    options as ConstructorParameters<typeof SMTPServer>[0],
  );
  // A client that refuses the certificate is an error of the session, seen
  // by the client; the server has nothing to add.
  server.on("error", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  // deno-lint-ignore no-explicit-any
  const port = (server as any).server.address().port as number;
  return {
    port,
    got,
    auths,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A CA and a certificate for localhost (and 127.0.0.1) signed by it, PEM. */
function makeCert(): { ca: string; cert: string; key: string } {
  const { pki, md } = forge;
  const make = (
    subject: string,
    issuer: { cn: string; key: unknown } | null,
    extensions: Record<string, unknown>[],
  ) => {
    const keys = pki.rsa.generateKeyPair({ bits: 2048 });
    const cert = pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = "0" +
      forge.util.bytesToHex(forge.random.getBytesSync(8));
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ name: "commonName", value: subject }]);
    cert.setIssuer([{ name: "commonName", value: issuer?.cn ?? subject }]);
    cert.setExtensions(extensions);
    cert.sign(issuer?.key ?? keys.privateKey, md.sha256.create());
    return { pem: pki.certificateToPem(cert), key: keys.privateKey };
  };
  const ca = make("jobpro-test-ca", null, [
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
  ]);
  const leaf = make("localhost", { cn: "jobpro-test-ca", key: ca.key }, [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }],
    },
  ]);
  return { ca: ca.pem, cert: leaf.pem, key: pki.privateKeyToPem(leaf.key) };
}

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A message's text body, decoded when it was sent as base64. */
function bodyOf(raw: string): string {
  const at = raw.indexOf("\r\n\r\n");
  const body = raw.slice(at + 4);
  if (!/Content-Transfer-Encoding: base64/i.test(raw.slice(0, at))) return body;
  const bin = atob(body.replace(/\s+/g, ""));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

Deno.test({
  name:
    "smtp: a plain session (STARTTLS not offered) without credentials delivers the message; a refused recipient is an error naming the reply; with credentials the password is never sent in clear",
  ...opts,
  async fn() {
    const srv = await smtpServer({ hideSTARTTLS: true });
    try {
      const s = parseSmtpUrl(
        `smtp://127.0.0.1:${srv.port}`,
        "jobpro@example.com",
      );
      await sendMail(s, {
        to: "ops@example.com",
        subject: 'Job "x" failed',
        text: "line 1\n.line 2\n",
      });
      assertEquals(srv.got.length, 1);
      const m = srv.got[0];
      assertEquals([m.from, m.to, m.user, m.secure], [
        "jobpro@example.com",
        ["ops@example.com"],
        null,
        false,
      ]);
      assertStringIncludes(m.raw, 'Subject: Job "x" failed');
      assertStringIncludes(m.raw, "line 1\r\n.line 2");
      await assertRejects(
        () =>
          sendMail(s, { to: "nobody@example.com", subject: "x", text: "x" }),
        Error,
        "no such mailbox",
      );
      const withAuth = parseSmtpUrl(
        `smtp://jobpro:s3cret@127.0.0.1:${srv.port}`,
        "jobpro@example.com",
      );
      await assertRejects(
        () =>
          sendMail(withAuth, {
            to: "ops@example.com",
            subject: "x",
            text: "x",
          }),
        Error,
        "the SMTP server offers no STARTTLS; refusing to send the password in clear",
      );
      assertEquals(srv.auths, [], "the server saw AUTH");
      assertEquals(srv.got.length, 1);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name:
    "smtp: a server that requires STARTTLS gets it (a certificate made here), then AUTH and the message over TLS",
  ...opts,
  async fn() {
    const tls = makeCert();
    const srv = await smtpServer({
      key: tls.key,
      cert: tls.cert,
      allowInsecureAuth: false,
      onMailFrom(
        _a: unknown,
        session: { secure: boolean },
        cb: (e?: Error) => void,
      ) {
        cb(session.secure ? undefined : new Error("STARTTLS first"));
      },
    });
    try {
      const s = {
        ...parseSmtpUrl(
          `smtp://jobpro:s3cret@localhost:${srv.port}`,
          "jobpro@example.com",
        ),
        caCerts: [tls.ca],
      };
      await sendMail(s, {
        to: "ops@example.com",
        subject: "Über",
        text: "grüße\n",
      });
      assertEquals(srv.got.length, 1);
      assert(srv.got[0].secure, "sent over TLS");
      assertEquals(srv.got[0].user, "jobpro");
      assertStringIncludes(srv.got[0].raw, "Subject: =?utf-8?B?");
      // A wrong password is the server's AUTH reply.
      await assertRejects(
        () =>
          sendMail({ ...s, pass: "nope" }, {
            to: "ops@example.com",
            subject: "x",
            text: "x",
          }),
        Error,
        "AUTH",
      );
      // Without the CA the certificate is refused: nothing is sent in clear.
      await assertRejects(() =>
        sendMail({ ...s, caCerts: undefined }, {
          to: "ops@example.com",
          subject: "x",
          text: "x",
        })
      );
      assertEquals(srv.got.length, 1);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name:
    "email alerts: a failed run's alert goes by SMTP from JOBPRO_NOTIFY_FROM with the run's facts and link; recorded sent",
  ...opts,
  async fn() {
    const srv = await smtpServer({ hideSTARTTLS: true });
    const target = localServer(() => new Response("no", { status: 500 }));
    try {
      await withServer(async (jp) => {
        const made = await call(
          jp,
          "POST",
          "/jobs",
          manualJob("mail", {
            name: "Mail me",
            action: { type: "http", url: target.url },
            notify: [{ on: ["failure"], target: { email: "ops@example.com" } }],
          }),
        );
        assertEquals(made.status, 201, made.text);
        const ran = await call(jp, "POST", "/jobs/mail/run");
        const runId = ran.body.run.id;
        await waitFor(() => srv.got.length === 1, { what: "the alert email" });
        const m = srv.got[0];
        assertEquals([m.from, m.to], ["alerts@jobs.example", [
          "ops@example.com",
        ]]);
        assertStringIncludes(
          m.raw,
          `Subject: [jobpro] Mail me failed (run ${runId})`,
        );
        assertStringIncludes(bodyOf(m.raw), `Run ${runId}: failed`);
        assertStringIncludes(bodyOf(m.raw), "Error: ");
        assertStringIncludes(
          bodyOf(m.raw),
          `https://jobs.example/jobs/mail?run=${runId}`,
        );
        const d = await waitFor(async () => {
          const r = await call(jp, "GET", "/jobs/mail/deliveries");
          return r.body.deliveries[0]?.status === "sent" &&
            r.body.deliveries[0];
        }, { what: "recorded sent" });
        assertEquals(d.target, { email: "ops@example.com" });
      }, {
        JOBPRO_SMTP_URL: `smtp://127.0.0.1:${srv.port}`,
        JOBPRO_NOTIFY_FROM: "alerts@jobs.example",
        JOBPRO_PUBLIC_URL: "https://jobs.example/",
      });
    } finally {
      await srv.close();
      await target.close();
    }
  },
});

Deno.test({
  name:
    "email alerts: with credentials and a server offering no STARTTLS the delivery fails with a clear error; the server never sees AUTH",
  ...opts,
  async fn() {
    const srv = await smtpServer({ hideSTARTTLS: true });
    const target = localServer(() => new Response("no", { status: 500 }));
    try {
      await withServer(async (jp) => {
        await call(
          jp,
          "POST",
          "/jobs",
          manualJob("mail", {
            action: { type: "http", url: target.url },
            notify: [{ on: ["failure"], target: { email: "ops@example.com" } }],
          }),
        );
        await call(jp, "POST", "/jobs/mail/run");
        const d = await waitFor(async () => {
          const r = await call(jp, "GET", "/jobs/mail/deliveries");
          return r.body.deliveries[0]?.status === "failed" &&
            r.body.deliveries[0];
        }, { what: "the delivery given up on" });
        assertStringIncludes(
          d.error,
          "the SMTP server offers no STARTTLS; refusing to send the password in clear",
        );
        assertEquals(srv.auths, [], "the server saw AUTH");
        assertEquals(srv.got.length, 0);
      }, {
        JOBPRO_SMTP_URL: `smtp://jobpro:s3cret@127.0.0.1:${srv.port}`,
        JOBPRO_NOTIFY_BACKOFF_MS: "0",
      });
    } finally {
      await srv.close();
      await target.close();
    }
  },
});

Deno.test({
  name:
    "smtp: the signal bounds the connect too: aborted before or while connecting, nothing is sent",
  ...opts,
  async fn() {
    const srv = await smtpServer({ hideSTARTTLS: true });
    try {
      const s = parseSmtpUrl(
        `smtp://127.0.0.1:${srv.port}`,
        "jobpro@example.com",
      );
      const mail = { to: "ops@example.com", subject: "x", text: "x" };
      await assertRejects(
        () => sendMail(s, mail, AbortSignal.abort()),
        Error,
        "SMTP: aborted",
      );
      const ac = new AbortController();
      const sending = sendMail(s, mail, ac.signal);
      ac.abort(); // the connect is under way
      await assertRejects(() => sending, Error, "SMTP: aborted");
      assertEquals(srv.got.length, 0);
      // The same settings still send.
      await sendMail(s, mail);
      assertEquals(srv.got.length, 1);
    } finally {
      await srv.close();
    }
  },
});
