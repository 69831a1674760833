// Renders the API reference into #reference with Scalar's standalone
// bundle (loaded before this file). The page's Content-Security-Policy
// allows scripts and styles from this service only, so everything that
// would reach elsewhere is off: Scalar's fonts, telemetry, AI agent, MCP
// and hosted developer tools.
(function () {
  // (Not #api-reference with data-url: the bundle would mount that itself,
  // with its default configuration.)
  var el = document.getElementById("reference");
  Scalar.createApiReference(el, {
    url: el.getAttribute("data-document"),
    withDefaultFonts: false,
    telemetry: false,
    showDeveloperTools: "never",
    agent: { disabled: true },
    mcp: { disabled: true },
    documentDownloadType: "yaml",
  });
})();
