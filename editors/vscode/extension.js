// The Loyalty extension: highlighting comes from syntaxes/loyalty.tmLanguage.json (no code);
// this file starts the language server, `loyalty lsp`, over stdio for .loyalty files.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const settings = vscode.workspace.getConfiguration("loyalty.server");
  const command = settings.get("command", "loyalty");
  const args = settings.get("args", ["lsp"]);
  return { command, args, transport: TransportKind.stdio };
}

async function start(context) {
  client = new LanguageClient(
    "loyalty",
    "Loyalty language server",
    serverOptions(),
    { documentSelector: [{ language: "loyalty" }] },
  );
  try {
    await client.start();
  } catch (err) {
    const command = serverOptions().command;
    vscode.window.showErrorMessage(
      `Loyalty: could not start "${command} lsp" (${err.message || err}). ` +
        "Install loyalty, or set loyalty.server.command to the loyalty program's path.",
    );
  }
}

async function activate(context) {
  await start(context);
  // a changed command path takes effect at once: restart the server
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("loyalty.server")) {
        if (client) await client.stop().catch(() => {});
        await start(context);
      }
    }),
  );
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate };
