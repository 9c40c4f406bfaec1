/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format. Runtime-agnostic, so /metrics works
 * the same on Node and Workers without a client library.
 */

type Labels = Record<string, string>;

const DEFAULT_BUCKETS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 60000];

const NEEDS_ESCAPE = /[\\"\n]/;
const escapeValue = (value: string) =>
  NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : value;

/** Labels as the exposition writes them, sorted by name: called on every count and observation. */
function labelKey(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  if (keys.length > 1) keys.sort();
  let out = "";
  for (const k of keys) out += `${out ? "," : ""}${k}="${escapeValue(String(labels[k]))}"`;
  return out;
}

function withLabels(name: string, key: string, extra?: string): string {
  const parts = [key, extra].filter(Boolean).join(",");
  return parts ? `${name}{${parts}}` : name;
}

export interface Metrics {
  inc(name: string, labels?: Labels, by?: number): void;
  set(name: string, value: number, labels?: Labels): void;
  observe(name: string, value: number, labels?: Labels): void;
  /** Values read at scrape time (queue depth, breaker state), so they are never stale. */
  collect(fn: () => Promise<void> | void): void;
  render(): Promise<string>;
}

export function createMetrics(help: Record<string, string> = {}): Metrics {
  const counters = new Map<string, Map<string, number>>();
  const gauges = new Map<string, Map<string, number>>();
  const histograms = new Map<string, Map<string, { buckets: number[]; sum: number; count: number }>>();
  const collectors: Array<() => Promise<void> | void> = [];

  const series = <T>(store: Map<string, Map<string, T>>, name: string) => {
    let m = store.get(name);
    if (!m) {
      m = new Map();
      store.set(name, m);
    }
    return m;
  };

  return {
    inc(name, labels = {}, by = 1) {
      const m = series(counters, name);
      const key = labelKey(labels);
      m.set(key, (m.get(key) ?? 0) + by);
    },
    set(name, value, labels = {}) {
      series(gauges, name).set(labelKey(labels), value);
    },
    observe(name, value, labels = {}) {
      const m = series(histograms, name);
      const key = labelKey(labels);
      let h = m.get(key);
      if (!h) {
        h = { buckets: DEFAULT_BUCKETS_MS.map(() => 0), sum: 0, count: 0 };
        m.set(key, h);
      }
      DEFAULT_BUCKETS_MS.forEach((le, i) => {
        if (value <= le && h) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
      });
      h.sum += value;
      h.count += 1;
    },
    collect(fn) {
      collectors.push(fn);
    },
    async render() {
      for (const fn of collectors) await fn();
      const lines: string[] = [];
      const header = (name: string, type: string) => {
        if (help[name]) lines.push(`# HELP ${name} ${help[name]}`);
        lines.push(`# TYPE ${name} ${type}`);
      };
      for (const [name, m] of counters) {
        header(name, "counter");
        for (const [key, v] of m) lines.push(`${withLabels(name, key)} ${v}`);
      }
      for (const [name, m] of gauges) {
        header(name, "gauge");
        for (const [key, v] of m) lines.push(`${withLabels(name, key)} ${v}`);
      }
      for (const [name, m] of histograms) {
        header(name, "histogram");
        for (const [key, h] of m) {
          DEFAULT_BUCKETS_MS.forEach((le, i) => {
            lines.push(`${withLabels(`${name}_bucket`, key, `le="${le}"`)} ${h.buckets[i]}`);
          });
          lines.push(`${withLabels(`${name}_bucket`, key, 'le="+Inf"')} ${h.count}`);
          lines.push(`${withLabels(`${name}_sum`, key)} ${h.sum}`);
          lines.push(`${withLabels(`${name}_count`, key)} ${h.count}`);
        }
      }
      return `${lines.join("\n")}\n`;
    },
  };
}
