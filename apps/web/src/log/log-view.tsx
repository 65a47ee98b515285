import {
  memo,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type CSSProperties,
  type KeyboardEvent,
  type MouseEvent,
  type ReactNode,
} from 'react';
import type { StepView } from '../api';
import { duration } from '../format';
import { parseAnsiLine, xterm256, type AnsiColor, type AnsiStyle, type Span } from './ansi';
import type { LogLines } from './log-lines';
import { LogRows, type Segment } from './log-rows';
import { LogSearch, matchesIn } from './log-search';
import './log-view.css';

/** Every row (line or step header) is this tall: the list is virtual, positions are arithmetic. */
export const ROW_HEIGHT = 20;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 20;
/**
 * Browsers cap an element's height (Chromium ~33.5M px, Firefox ~17.9M px); a taller log is
 * mapped onto this many pixels of scrollbar, the rows placed relative to the viewport.
 */
const MAX_SCROLL_HEIGHT = 15_000_000;
const PADDING = 8;
/** How far from the bottom a scroll may leave the view and still count as following. */
const FOLLOW_SLACK = 40;

interface Viewport {
  top: number;
  height: number;
}

/**
 * A job's numbered log lines grouped by step, each step a collapsible section, rendered as a
 * virtual list: only the rows in view (plus a margin) are in the DOM, so a 100 MB log scrolls
 * as smoothly as a short one. Every piece of log text is a React text node: whatever a build
 * prints shows as text, never as markup.
 */
export function LogView(props: {
  lines: LogLines;
  steps: StepView[];
  /** Changes whenever lines or steps do. */
  version: number;
  /** True once the log has all it will get. */
  ended: boolean;
  follow: boolean;
  onFollowChange: (follow: boolean) => void;
}): ReactNode {
  const { lines, steps, version, follow, onFollowChange } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());
  const [viewport, setViewport] = useState<Viewport>({ top: 0, height: 600 });
  const [target, setTarget] = useState(() => lineOfHash(window.location.hash));
  // A target line from the URL is scrolled to once, when it has arrived.
  const pendingTarget = useRef(target !== undefined);
  const search = useSearch(lines, version);

  const rows = useMemo(
    () => new LogRows(lines.length, lines.first, steps, collapsed),
    [lines.length, lines.first, steps, collapsed],
  );
  const contentHeight = rows.total * ROW_HEIGHT + 2 * PADDING;
  const scrollHeight = Math.min(contentHeight, MAX_SCROLL_HEIGHT);
  const ratio =
    contentHeight > MAX_SCROLL_HEIGHT
      ? (contentHeight - viewport.height) / (MAX_SCROLL_HEIGHT - viewport.height)
      : 1;

  const measure = useCallback((): void => {
    const box = scroller.current;
    if (box === null) return;
    setViewport((previous) =>
      previous.top === box.scrollTop && previous.height === box.clientHeight
        ? previous
        : { top: box.scrollTop, height: box.clientHeight },
    );
  }, []);

  /** Scrolls so row `row` is in the middle of the view. */
  const scrollToRow = useCallback(
    (row: number): void => {
      const box = scroller.current;
      if (box === null) return;
      const height = box.clientHeight;
      const offset = Math.max(
        0,
        Math.min(contentHeight - height, PADDING + row * ROW_HEIGHT - height / 2 + ROW_HEIGHT / 2),
      );
      box.scrollTop = offset / ratio;
      measure();
    },
    [contentHeight, ratio, measure],
  );

  /** Shows line `index`, expanding its step when collapsed. */
  const reveal = useCallback(
    (index: number): void => {
      const row = rows.rowOfLine(index);
      if (row !== undefined) {
        scrollToRow(row);
        return;
      }
      const step = rows.segmentOfLine(index)?.step;
      if (step === undefined) return;
      // Expanded, the line has a row: the effect below scrolls to it once rendered.
      setCollapsed((previous) => {
        const next = new Set(previous);
        next.delete(step.idx);
        return next;
      });
      revealAfterRender.current = index;
    },
    [rows, scrollToRow],
  );
  const revealAfterRender = useRef<number | undefined>(undefined);
  useLayoutEffect(() => {
    const index = revealAfterRender.current;
    const row = index === undefined ? undefined : rows.rowOfLine(index);
    if (row !== undefined) {
      revealAfterRender.current = undefined;
      scrollToRow(row);
    }
  }, [rows, scrollToRow]);

  // Following: the view stays at the bottom while lines come.
  useLayoutEffect(() => {
    const box = scroller.current;
    if (!follow || box === null) return;
    box.scrollTop = box.scrollHeight;
    measure();
  }, [follow, version, rows, measure]);

  useLayoutEffect(() => {
    measure();
    const box = scroller.current;
    if (box === null) return;
    const observer = new ResizeObserver(measure);
    observer.observe(box);
    return () => observer.disconnect();
  }, [measure]);

  // A `#L123` URL: stop following, and scroll to the line as soon as it is there.
  useEffect(() => {
    if (pendingTarget.current) onFollowChange(false);
    const onHash = (): void => {
      const line = lineOfHash(window.location.hash);
      setTarget(line);
      pendingTarget.current = line !== undefined;
      if (line !== undefined) onFollowChange(false);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [onFollowChange]);
  useLayoutEffect(() => {
    if (!pendingTarget.current || target === undefined) return;
    const index = target - lines.first;
    if (index < lines.length || (props.ended && lines.length > 0)) {
      pendingTarget.current = false;
      reveal(Math.min(index, lines.length - 1));
    }
  }, [target, version, props.ended, lines, reveal]);

  const onScroll = (): void => {
    const box = scroller.current;
    if (box === null) return;
    // Scrolling up to read stops following; the toggle turns it back on.
    if (follow && box.scrollHeight - box.scrollTop - box.clientHeight > FOLLOW_SLACK) {
      onFollowChange(false);
    }
    measure();
  };

  const toggle = useCallback(
    (idx: number): void =>
      setCollapsed((previous) => {
        const next = new Set(previous);
        if (!next.delete(idx)) next.add(idx);
        return next;
      }),
    [],
  );

  const onLineLink = useCallback(
    (event: MouseEvent<HTMLAnchorElement>, n: number): void => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
        return;
      }
      // The line is in view already: mark it and keep the URL shareable, without a jump.
      event.preventDefault();
      window.history.replaceState(window.history.state, '', `#L${n}`);
      setTarget(n);
      onFollowChange(false);
    },
    [onFollowChange],
  );

  const jump = (k: number): void => {
    const line = search.select(k);
    if (line === undefined) return;
    onFollowChange(false);
    reveal(line);
  };
  // The first match is shown as soon as it is found.
  const firstFound = search.current === 0 && search.total > 0;
  const jumpedTo = useRef<LogSearch | undefined>(undefined);
  useLayoutEffect(() => {
    const found = search.state;
    if (!firstFound || found === undefined || jumpedTo.current === found) return;
    jumpedTo.current = found;
    const line = found.hits[0];
    if (line === undefined) return;
    onFollowChange(false);
    reveal(line);
  }, [firstFound, search.state, reveal, onFollowChange]);

  // The window of rows to render.
  const offset = viewport.top * ratio;
  const firstRow = Math.max(0, Math.floor((offset - PADDING) / ROW_HEIGHT) - OVERSCAN);
  const lastRow = Math.min(
    rows.total,
    Math.ceil((offset - PADDING + viewport.height) / ROW_HEIGHT) + OVERSCAN,
  );
  const windowTop = viewport.top + (PADDING + firstRow * ROW_HEIGHT - offset);
  const currentHit = search.state?.hits[search.current];
  const currentNth =
    search.state === undefined || search.current < 0 ? -1 : search.state.nthInLine(search.current);

  const rendered: ReactNode[] = [];
  for (let r = firstRow; r < lastRow; r++) {
    const row = rows.row(r);
    if (row === undefined) break;
    if (row.kind === 'step') {
      const step = row.segment.step;
      if (step !== undefined) {
        rendered.push(
          <StepHead key={`s${step.idx}`} step={step} segment={row.segment} onToggle={toggle} />,
        );
      }
      continue;
    }
    const n = lines.first + row.index;
    rendered.push(
      <Line
        key={n}
        n={n}
        raw={lines.raw[row.index] ?? ''}
        style={lines.styleAt(row.index)}
        pattern={search.state?.pattern}
        current={currentHit === row.index ? currentNth : -1}
        target={target === n}
        onLink={onLineLink}
      />,
    );
  }

  return (
    <div className="log-view">
      <SearchBar search={search} onJump={jump} />
      <div className="log-scroll" ref={scroller} onScroll={onScroll}>
        {lines.length === 0 && steps.length === 0 ? (
          <div className="log empty-log">Waiting for output…</div>
        ) : (
          <div
            className="log"
            data-version={version}
            data-lines={lines.length}
            style={{ height: scrollHeight }}
          >
            <div className="log-window" style={{ transform: `translateY(${windowTop}px)` }}>
              {rendered}
            </div>
          </div>
        )}
      </div>
    </div>
  );
}

function lineOfHash(hash: string): number | undefined {
  const match = /^#L(\d+)$/.exec(hash);
  return match === null ? undefined : Number(match[1]);
}

interface SearchHandle {
  query: string;
  setQuery: (query: string) => void;
  state: LogSearch | undefined;
  /** Matches found so far. */
  total: number;
  /** The selected match, -1 for none. */
  current: number;
  scanning: boolean;
  /** Selects match `k` (wrapping around); returns its line index. */
  select: (k: number) => number | undefined;
}

/** A search over the log, scanning in slices of a frame's time and over lines that arrive. */
function useSearch(lines: LogLines, version: number): SearchHandle {
  const [query, setQuery] = useState('');
  const [state, setState] = useState<LogSearch | undefined>(undefined);
  const [progress, setProgress] = useState({ total: 0, scanning: false });
  const [current, setCurrent] = useState(-1);

  useEffect(() => {
    if (query === '') {
      setState(undefined);
      setCurrent(-1);
      setProgress({ total: 0, scanning: false });
      return;
    }
    // Typing settles before a search of every line starts.
    const timer = setTimeout(() => {
      setState(new LogSearch(query));
      setCurrent(-1);
    }, 150);
    return () => clearTimeout(timer);
  }, [query, lines]);

  useEffect(() => {
    if (state === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const step = (): void => {
      const done = state.scan(lines, 12);
      setProgress((previous) =>
        previous.total === state.hits.length && previous.scanning === !done
          ? previous
          : { total: state.hits.length, scanning: !done },
      );
      setCurrent((k) => (k < 0 && state.hits.length > 0 ? 0 : k));
      if (!done) timer = setTimeout(step, 0);
    };
    step();
    return () => clearTimeout(timer);
  }, [state, lines, version]);

  const select = (k: number): number | undefined => {
    const total = state?.hits.length ?? 0;
    if (state === undefined || total === 0) return undefined;
    const wrapped = ((k % total) + total) % total;
    setCurrent(wrapped);
    return state.hits[wrapped];
  };
  return {
    query,
    setQuery,
    state,
    total: progress.total,
    current,
    scanning: progress.scanning,
    select,
  };
}

function SearchBar(props: { search: SearchHandle; onJump: (k: number) => void }): ReactNode {
  const { search, onJump } = props;
  const input = useRef<HTMLInputElement>(null);
  // `/` searches, as on GitHub and in less: unless it is typed into a field.
  useEffect(() => {
    const onKeyDown = (event: globalThis.KeyboardEvent): void => {
      if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (
        target instanceof HTMLInputElement ||
        target instanceof HTMLTextAreaElement ||
        target instanceof HTMLSelectElement ||
        (target instanceof HTMLElement && target.isContentEditable)
      ) {
        return;
      }
      event.preventDefault();
      input.current?.focus();
      input.current?.select();
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, []);
  const onKey = (event: KeyboardEvent<HTMLInputElement>): void => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    onJump(search.current + (event.shiftKey ? -1 : 1));
  };
  const count =
    search.state === undefined
      ? ''
      : search.total === 0
        ? search.scanning
          ? 'searching…'
          : 'no matches'
        : `${search.current + 1} of ${search.total}${search.scanning ? '…' : ''}`;
  return (
    <div className="log-search" role="search">
      <input
        ref={input}
        type="search"
        aria-keyshortcuts="/"
        aria-label="Search the log"
        placeholder="Search the log"
        value={search.query}
        onChange={(event) => search.setQuery(event.target.value)}
        onKeyDown={onKey}
      />
      <span className="log-search-count" aria-live="polite">
        {count}
      </span>
      <button
        type="button"
        aria-label="Previous match"
        disabled={search.total === 0}
        onClick={() => onJump(search.current - 1)}
      >
        ↑
      </button>
      <button
        type="button"
        aria-label="Next match"
        disabled={search.total === 0}
        onClick={() => onJump(search.current + 1)}
      >
        ↓
      </button>
    </div>
  );
}

const StepHead = memo(function StepHead(props: {
  step: StepView;
  segment: Segment;
  onToggle: (idx: number) => void;
}): ReactNode {
  const { step, segment } = props;
  return (
    <button
      type="button"
      className={step.exitCode !== null && step.exitCode !== 0 ? 'step-head failing' : 'step-head'}
      data-step={step.name}
      aria-expanded={!segment.collapsed}
      onClick={() => props.onToggle(step.idx)}
    >
      <span className="chevron" aria-hidden="true">
        {segment.collapsed ? '▸' : '▾'}
      </span>
      <span className="step-name">{step.name}</span>
      <span className="step-lines">
        {segment.end - segment.start} {segment.end - segment.start === 1 ? 'line' : 'lines'}
      </span>
      <StepTimes step={step} />
    </button>
  );
});

const CLOCK = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** The log carries no per-line times: a step's start and duration are the times there are. */
function StepTimes({ step }: { step: StepView }): ReactNode {
  const time = duration(step.startedAt, step.finishedAt ?? undefined);
  const started = (
    <time className="step-start" dateTime={step.startedAt} title={step.startedAt}>
      {CLOCK.format(new Date(step.startedAt))}
    </time>
  );
  if (step.exitCode === null) {
    return (
      <span className="step-outcome running">
        {started} · {time}
      </span>
    );
  }
  return (
    <span className={`step-outcome ${step.exitCode === 0 ? 'ok' : 'failed'}`}>
      {started} · {step.exitCode === 0 ? '' : `exit ${step.exitCode} · `}
      {time}
    </span>
  );
}

// Props are the raw line and its starting style: an unchanged line skips rendering on scroll.
const Line = memo(function Line(props: {
  n: number;
  raw: string;
  style: AnsiStyle;
  pattern: RegExp | undefined;
  /** Which of this line's matches is the selected one; -1 for none. */
  current: number;
  target: boolean;
  onLink: (event: MouseEvent<HTMLAnchorElement>, n: number) => void;
}): ReactNode {
  const { n } = props;
  const spans = parseAnsiLine(props.raw, props.style).spans;
  const text = spans.map((span) => span.text).join('');
  const ranges = props.pattern === undefined ? [] : matchesIn(text, props.pattern);
  return (
    <div className={props.target ? 'line target' : 'line'} id={`L${n}`}>
      <a
        className="ln"
        href={`#L${n}`}
        data-n={n}
        aria-label={`Line ${n}`}
        onClick={(event) => props.onLink(event, n)}
      />
      <span className="text">
        {ranges.length === 0
          ? spans.map((span, i) => <SpanText key={i} text={span.text} style={span.style} />)
          : highlighted(spans, ranges, props.current)}
      </span>
    </div>
  );
});

/** The spans cut at the matches' edges, each match in a `<mark>`, as text. */
function highlighted(spans: Span[], ranges: [number, number][], current: number): ReactNode[] {
  const nodes: ReactNode[] = [];
  let at = 0;
  let key = 0;
  for (const span of spans) {
    const end = at + span.text.length;
    let from = at;
    while (from < end) {
      const k = ranges.findIndex(([s, e]) => e > from && s < end);
      const range = ranges[k];
      if (range === undefined || range[0] >= end) {
        nodes.push(<SpanText key={key++} text={span.text.slice(from - at)} style={span.style} />);
        break;
      }
      if (range[0] > from) {
        nodes.push(
          <SpanText
            key={key++}
            text={span.text.slice(from - at, range[0] - at)}
            style={span.style}
          />,
        );
        from = range[0];
      }
      const until = Math.min(end, range[1]);
      nodes.push(
        <mark key={key++} className={k === current ? 'hit current' : 'hit'}>
          <SpanText text={span.text.slice(from - at, until - at)} style={span.style} />
        </mark>,
      );
      from = until;
    }
    at = end;
  }
  return nodes;
}

function SpanText({ text, style: ansi }: { text: string; style: AnsiStyle }): ReactNode {
  const { className, style } = presentation(ansi);
  if (className === '' && style === undefined) return text;
  return (
    <span className={className} style={style}>
      {text}
    </span>
  );
}

function presentation(ansi: AnsiStyle): { className: string; style?: CSSProperties } {
  const classes: string[] = [];
  const style: CSSProperties = {};
  let fg = ansi.fg;
  let bg = ansi.bg;
  if (ansi.inverse === true) [fg, bg] = [bg ?? 'var(--log-bg)', fg ?? 'var(--log-fg)'];
  const paint = (color: AnsiColor | undefined, kind: 'fg' | 'bg'): void => {
    if (color === undefined) return;
    if (typeof color === 'number' && color < 16) classes.push(`${kind}-${color}`);
    else {
      const css = typeof color === 'number' ? xterm256(color) : color;
      if (kind === 'fg') style.color = css;
      else style.backgroundColor = css;
    }
  };
  paint(fg, 'fg');
  paint(bg, 'bg');
  if (ansi.bold === true) classes.push('bold');
  if (ansi.dim === true) classes.push('dim');
  if (ansi.italic === true) classes.push('italic');
  if (ansi.underline === true) classes.push('underline');
  return {
    className: classes.join(' '),
    ...(Object.keys(style).length === 0 ? {} : { style }),
  };
}
