// A real SMTP server on loopback for browser tests of email (nodemailer's smtp-server): Beckon
// sends to it over SMTP exactly as to a real one, and the test reads what arrived.
'use strict';
const { SMTPServer } = require('smtp-server');

/** Starts the sink on a free port. Resolves to {url, mails: [{from, to, raw}], close()}. */
async function startSmtpSink() {
  const mails = [];
  const server = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback: no certificate to offer (Beckon would try STARTTLS if offered).
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (d) => { raw += d; });
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom && session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address();
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

module.exports = { startSmtpSink };
