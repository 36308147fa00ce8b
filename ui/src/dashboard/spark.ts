// Sparklines: a line over the last hour, drawn as inline SVG (no images, no
// inline styles, so the strict CSP holds).

const SVG = "http://www.w3.org/2000/svg";

/**
 * The SVG path of `values` in a `width` × `height` box, oldest on the left;
 * `max` is the top of the scale (the values' own maximum when not given).
 * Empty for fewer than two values.
 */
export function sparkPath(values: readonly number[], width: number, height: number, max?: number): string {
  if (values.length < 2) return "";
  const top = max ?? Math.max(...values);
  const scale = top > 0 ? top : 1;
  const step = width / (values.length - 1);
  return values
    .map((v, i) => {
      const clamped = Math.min(Math.max(v, 0), scale);
      const x = i * step;
      const y = height - (clamped / scale) * height;
      return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

/** An `<svg>` sparkline of `values`, described for screen readers by `label`. */
export function renderSpark(values: readonly number[], label: string, max?: number): SVGSVGElement {
  const width = 200;
  const height = 40;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", sparkPath(values, width, height, max));
  path.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(path);
  return svg;
}
