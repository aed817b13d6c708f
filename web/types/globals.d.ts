// The globals the widget, console and demo scripts share or meet on the page. Not shipped: only
// for the type check (tsconfig.json).
interface Window {
  /** The console's shared helpers, set by console.js for pages.js, replies.js, emoji.js, files.js, triggers.js. */
  BeckonConsole: any;
  /** The widget's private object that chat.js registers with (widget.js). */
  __beckonWidget: any;
  /** The SDK namespaces the widget defines (Microsoft.Omnichannel.LiveChatWidget.SDK, Beckon). */
  Microsoft: any;
  Beckon: any;
  /** Older Safari's AudioContext, and old Edge's crypto. */
  webkitAudioContext: typeof AudioContext;
  msCrypto: Crypto;
}
