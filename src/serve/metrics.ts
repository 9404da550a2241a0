/**
 * Prometheus metrics in the text exposition format (version 0.0.4): counters, gauges read at scrape time, and
 * histograms with cumulative `le` buckets. Label values are escaped as the format asks (\\, \", \n).
 */

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort());
}

function num(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
}

class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const cur = this.#values.get(k);
    if (cur) cur.value += by;
    else this.#values.set(k, { labels, value: by });
  }

  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      ...[...this.#values.values()].map((v) => `${this.name}${labelText(v.labels)} ${num(v.value)}`),
    ];
  }
}

class Histogram {
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const k = keyOf(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] as number)) (s.counts[i] as number)++;
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.#series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText(s.labels, ['le', num(b)])} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export interface GaugeValues {
  modelsLoaded: number;
  cacheBytes: number;
  evictions: number;
  inflight: number;
}

/** The server's metrics; gauges come from `read` at each scrape so they are never stale. */
export class Metrics {
  readonly requests = new Counter('modelctl_http_requests_total', 'HTTP requests by method, route and status code.');
  readonly latency = new Histogram(
    'modelctl_http_request_duration_seconds',
    'HTTP request latency by route.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  readonly inferences = new Counter('modelctl_inference_requests_total', 'Inference requests by model.');
  readonly batchSize = new Histogram(
    'modelctl_inference_batch_size',
    'Requests merged into one ONNX Runtime run, by model.',
    [1, 2, 4, 8, 16, 32, 64, 128],
  );
  readonly batchRows = new Histogram(
    'modelctl_inference_batch_rows',
    'Rows (first dimension) of one ONNX Runtime run, by model.',
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  );
  readonly #read: () => GaugeValues;

  constructor(read: () => GaugeValues) {
    this.#read = read;
  }

  render(): string {
    const g = this.#read();
    const gauge = (name: string, help: string, value: number, type = 'gauge') => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${type}`,
      `${name} ${num(value)}`,
    ];
    return `${[
      ...this.requests.render(),
      ...this.latency.render(),
      ...this.inferences.render(),
      ...this.batchSize.render(),
      ...this.batchRows.render(),
      ...gauge('modelctl_models_loaded', 'ONNX Runtime sessions held in memory.', g.modelsLoaded),
      ...gauge('modelctl_model_cache_bytes', 'Model file bytes of the sessions held (the memory budget counts these).', g.cacheBytes),
      ...gauge(
        'modelctl_model_evictions_total',
        'Sessions evicted to stay within --max-models-in-ram and --max-memory.',
        g.evictions,
        'counter',
      ),
      ...gauge('modelctl_http_requests_in_flight', 'Requests being answered.', g.inflight),
    ].join('\n')}\n`;
  }
}
