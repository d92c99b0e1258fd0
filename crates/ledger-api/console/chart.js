// A grouped bar chart drawn as SVG elements (no library: the page loads
// nothing but its own files). Each month is a group, each series a bar;
// every bar has a <title> with its exact figure, and the page shows the
// same figures in a table for screen readers and for copying.

const SVG = "http://www.w3.org/2000/svg";

function node(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * An SVG of `groups` ([{label, values: [number|null, …], note?}]) with one
 * bar per series (`series`: [{name, className}]). `format` renders a
 * value for the axis and the bars' titles; `title` and `desc` label the
 * image for assistive technology.
 */
export function barChart({ groups, series, format, title, desc }) {
  const width = 960;
  // Room below the axis for month names at 45° in either language.
  const height = 340;
  const left = 96;
  const right = 12;
  const top = 16;
  const bottom = 250;
  const svg = node("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    class: "chart",
  });
  const id = `chart-${Math.random().toString(36).slice(2)}`;
  const t = node("title", { id: `${id}-t` }, title);
  const d = node("desc", { id: `${id}-d` }, desc);
  svg.append(t, d);
  svg.setAttribute("aria-labelledby", `${id}-t ${id}-d`);
  const max = Math.max(
    1,
    ...groups.flatMap((g) => g.values.filter((v) => v !== null).map((v) => Math.abs(v))),
  );
  const scale = (v) => ((bottom - top) * Math.abs(v)) / max;
  // Axis and its two labels.
  svg.append(
    node("line", { x1: left, y1: bottom, x2: width - right, y2: bottom, class: "axis" }),
    node("text", { x: left - 6, y: top + 10, "text-anchor": "end", class: "tick" }, format(max)),
    node("text", { x: left - 6, y: bottom, "text-anchor": "end", class: "tick" }, format(0)),
  );
  const slot = (width - left - right) / Math.max(1, groups.length);
  const bar = (slot * 0.8) / Math.max(1, series.length);
  groups.forEach((g, i) => {
    const x0 = left + i * slot + slot * 0.1;
    g.values.forEach((v, j) => {
      if (v === null || v === 0) return;
      const h = Math.max(1, scale(v));
      const r = node("rect", {
        x: x0 + j * bar,
        y: bottom - h,
        width: Math.max(1, bar - 1),
        height: h,
        class: `bar ${series[j].className}`,
      });
      r.append(node("title", {}, `${g.label} — ${series[j].name}: ${format(v)}`));
      svg.append(r);
    });
    const label = node(
      "text",
      {
        x: left + i * slot + slot / 2,
        y: bottom + 14,
        "text-anchor": "end",
        transform: `rotate(-45 ${left + i * slot + slot / 2} ${bottom + 14})`,
        class: "tick",
      },
      g.label,
    );
    svg.append(label);
    if (g.note) {
      svg.append(
        node(
          "text",
          { x: left + i * slot + slot / 2, y: bottom - 4, "text-anchor": "middle", class: "note" },
          g.note,
        ),
      );
    }
  });
  return svg;
}

/** The chart's legend: a list of the series with their colours. */
export function legend(series) {
  const ul = document.createElement("ul");
  ul.className = "legend";
  for (const s of series) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch ${s.className}`;
    swatch.setAttribute("aria-hidden", "true");
    li.append(swatch, document.createTextNode(s.name));
    ul.append(li);
  }
  return ul;
}
