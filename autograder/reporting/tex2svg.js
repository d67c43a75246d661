// TeX to SVG with MathJax 3 (npm package mathjax-full), for autograder/mathsvg.py.
// stdin: JSON [[tex, display], ...]; stdout: JSON [svg markup or null, ...] in the same order.
// Runs once per feedback run on the instructor's machine: pages need no script or network.
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AllPackages } = require("mathjax-full/js/input/tex/AllPackages.js");

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const packages = AllPackages.filter((name) => name !== "bussproofs");
const doc = mathjax.document("", {
  InputJax: new TeX({ packages }),
  OutputJax: new SVG({ fontCache: "local" }),
});

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(([tex, display]) => {
    try {
      const node = doc.convert(tex, { display });
      const svg = adaptor.outerHTML(node);
      return svg.includes("data-mjx-error") || svg.includes("merror") ? null : svg;
    } catch (err) {
      return null;
    }
  });
  process.stdout.write(JSON.stringify(out));
});
