// Draws bench/results/ratios.svg from the saved runs (bench/results/session.json and bulk.json):
// each client's throughput as a ratio to undici.request, per scenario, with the run's date and
// machine in the caption. The root README shows it.
//   pnpm bench:chart
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../results/", import.meta.url));

interface Bar {
  client: string;
  ratio: number;
}
interface Group {
  title: string;
  bars: Bar[];
}

const groups: Group[] = [];
let caption = "";

interface SessionRun {
  date: string;
  machine: string;
  node: string;
  tables: Array<{ title: string; baseline: string; results: Array<{ name: string; rps: number }> }>;
}
if (existsSync(`${dir}session.json`)) {
  const run = JSON.parse(readFileSync(`${dir}session.json`, "utf8")) as SessionRun;
  caption = `${run.date}, ${run.machine}, Node ${run.node}`;
  for (const table of run.tables) {
    const base = table.results.find((r) => r.name === table.baseline);
    if (!base) continue;
    groups.push({
      title: table.title.replace(/ \([^()]*\)$/, ""),
      bars: table.results.map((r) => ({ client: r.name, ratio: r.rps / base.rps })),
    });
  }
}

interface BulkRun {
  date: string;
  machine: string;
  node: string;
  scenarios: Array<{ scenario: string; rows: Array<{ client: string; throughput: number }> }>;
}
if (existsSync(`${dir}bulk.json`)) {
  const run = JSON.parse(readFileSync(`${dir}bulk.json`, "utf8")) as BulkRun;
  caption ||= `${run.date}, ${run.machine}, Node ${run.node}`;
  for (const s of run.scenarios) {
    if (!/^(1 MiB, concurrency 8|64 MiB)/.test(s.scenario) || s.scenario.includes("other ways")) continue;
    const base = s.rows.find((r) => r.client === "undici.request");
    if (!base) continue;
    groups.push({
      title: `${s.scenario} (nginx)`,
      bars: s.rows.map((r) => ({ client: r.client, ratio: r.throughput / base.throughput })),
    });
  }
}
if (groups.length === 0) throw new Error("no saved runs: run pnpm bench:session and pnpm bench:bulk first");

const colors: Record<string, string> = {
  "@x/session": "#2563eb",
  "@x/session read()": "#2563eb",
  "undici.request": "#64748b",
  fetch: "#94a3b8",
  "node:http": "#a3a3a3",
  axios: "#d97706",
  got: "#b45309",
  "raw floor": "#16a34a",
  aiohttp: "#7c3aed",
};
const barHeight = 14;
const labelWidth = 150;
const plotWidth = 420;
const maxRatio = Math.max(1.5, ...groups.flatMap((g) => g.bars.map((b) => b.ratio)));
const x = (ratio: number) => labelWidth + (ratio / maxRatio) * plotWidth;
let y = 40;
const parts: string[] = [];
for (const g of groups) {
  parts.push(`<text x="8" y="${y}" font-weight="bold">${escapeXml(g.title)}</text>`);
  y += 8;
  for (const b of g.bars) {
    const color = colors[b.client] ?? "#475569";
    parts.push(
      `<text x="${labelWidth - 6}" y="${y + barHeight - 3}" text-anchor="end">${escapeXml(b.client)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${(x(b.ratio) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
      `<text x="${(x(b.ratio) + 4).toFixed(1)}" y="${y + barHeight - 3}">${b.ratio.toFixed(2)}×</text>`,
    );
    y += barHeight + 3;
  }
  y += 18;
}
const height = y + 10;
const one = x(1).toFixed(1);
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + plotWidth + 60}" height="${height}" font-family="sans-serif" font-size="11">
<title>Throughput of @x/session and other clients relative to undici.request</title>
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="18" font-size="13" font-weight="bold">Throughput relative to undici.request (higher is better)</text>
<text x="8" y="32" fill="#475569">${escapeXml(caption)}; pnpm bench:session and pnpm bench:bulk</text>
<line x1="${one}" y1="36" x2="${one}" y2="${height - 10}" stroke="#0f172a" stroke-dasharray="3,3"/>
${parts.join("\n")}
</svg>
`;
writeFileSync(`${dir}ratios.svg`, svg);
console.log(`wrote ${dir}ratios.svg (${groups.length} groups, ${caption})`);

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
