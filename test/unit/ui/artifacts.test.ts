import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import {
  ARTIFACT_CSP,
  artifactHeaders,
  artifactKind,
  attachmentDisposition,
  MAX_INLINE_TEXT_BYTES,
} from "../../../src/ui/artifacts.js";
import { assetPath, defaultUiDir } from "../../../src/ui/static.js";

test("artifact kinds: texts and raster images by extension; html, svg, xml and unknown are binary", () => {
  assert.equal(artifactKind("logs/train.LOG"), "text");
  assert.equal(artifactKind("eval/metrics.json"), "text");
  assert.equal(artifactKind("plots/loss.png"), "image");
  assert.equal(artifactKind("x.JPEG"), "image");
  for (const name of ["report.html", "r.htm", "pic.svg", "data.xml", "model.bin", "noext", ".png/dir"]) {
    assert.equal(artifactKind(name), "binary", name);
  }
});

test("artifact headers: every answer is nosniff + sandboxed; only small text and images are inline", () => {
  const text = artifactHeaders("notes.txt", 10, false);
  assert.equal(text["content-type"], "text/plain; charset=utf-8");
  assert.equal(text["content-disposition"], undefined);
  const bigText = artifactHeaders("train.log", MAX_INLINE_TEXT_BYTES + 1, false);
  assert.match(bigText["content-disposition"]!, /^attachment;/);
  const img = artifactHeaders("a/b.webp", 10, false);
  assert.equal(img["content-type"], "image/webp");
  assert.equal(img["content-disposition"], undefined);
  for (const name of ["page.html", "pic.svg", "feed.xml", "weights.bin"]) {
    const h = artifactHeaders(name, 10, false);
    assert.equal(h["content-type"], "application/octet-stream", name);
    assert.match(h["content-disposition"]!, /^attachment; filename="/, name);
  }
  assert.match(artifactHeaders("notes.txt", 10, true)["content-disposition"]!, /^attachment;/);
  for (const h of [text, bigText, img, artifactHeaders("x.svg", 1, false)]) {
    assert.equal(h["x-content-type-options"], "nosniff");
    assert.equal(h["content-security-policy"], ARTIFACT_CSP);
    assert.equal(h["cache-control"], "no-store");
  }
});

test("attachment filenames: the base name, quotes and non-ASCII replaced, exact name in filename*", () => {
  assert.equal(
    attachmentDisposition("plots/a.html"),
    `attachment; filename="a.html"; filename*=UTF-8''a.html`,
  );
  const v = attachmentDisposition('d/r\u00e9s"u\r\nm\u00e9.svg');
  assert.match(
    v,
    /^attachment; filename="r_s_u__m_\.svg"; filename\*=UTF-8''r%C3%A9s%22u%0D%0Am%C3%A9\.svg$/,
  );
});

test("asset paths stay inside dist/ui/assets", () => {
  const ui = path.join(path.sep, "srv", "dist", "ui");
  assert.equal(assetPath(ui, "app.js"), path.join(ui, "assets", "app.js"));
  assert.equal(assetPath(ui, "fonts/a.woff2"), path.join(ui, "assets", "fonts", "a.woff2"));
  for (const bad of ["", "../x.js", "a/../../x", "/etc/passwd", "a\\..\\x", "a\0b", "a//b", "./a.js"]) {
    assert.equal(assetPath(ui, bad), undefined, JSON.stringify(bad));
  }
});

test("the built page is found next to dist/src/ui, or in dist/ui of the checkout when running from src/ui", () => {
  const root = path.join(path.sep, "pkg");
  assert.equal(defaultUiDir(`file://${root}/dist/src/ui/static.js`), path.join(root, "dist", "ui"));
  assert.equal(defaultUiDir(`file://${root}/src/ui/static.ts`), path.join(root, "dist", "ui"));
});
