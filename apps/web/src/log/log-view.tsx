import { memo, useState, type CSSProperties, type ReactNode } from 'react';
import type { StepView } from '../api';
import { duration } from '../format';
import { xterm256, type AnsiColor, type AnsiStyle, type Span } from './ansi';
import type { LogLine } from './log-lines';

interface Section {
  step?: StepView;
  lines: LogLine[];
}

/**
 * Numbered log lines grouped by step, each step a collapsible section. Every piece of log text
 * is a React text node: whatever a build prints shows as text, never as markup.
 */
export function LogView(props: {
  lines: LogLine[];
  steps: StepView[];
  version: number;
}): ReactNode {
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());
  const toggle = (idx: number): void =>
    setCollapsed((previous) => {
      const next = new Set(previous);
      if (!next.delete(idx)) next.add(idx);
      return next;
    });
  const sections = sectionsOf(props.lines, props.steps);
  if (props.lines.length === 0 && props.steps.length === 0) {
    return <div className="log empty-log">Waiting for output…</div>;
  }
  return (
    <div className="log" data-version={props.version}>
      {sections.map((section) =>
        section.step === undefined ? (
          <Lines key="before" lines={section.lines} />
        ) : (
          <div key={section.step.idx} className="log-step">
            <button
              type="button"
              className="step-head"
              aria-expanded={!collapsed.has(section.step.idx)}
              onClick={() => toggle(section.step?.idx ?? -1)}
            >
              <span className="chevron" aria-hidden="true">
                {collapsed.has(section.step.idx) ? '▸' : '▾'}
              </span>
              <span className="step-name">{section.step.name}</span>
              <StepOutcome step={section.step} />
            </button>
            {collapsed.has(section.step.idx) ? null : <Lines lines={section.lines} />}
          </div>
        ),
      )}
    </div>
  );
}

function StepOutcome({ step }: { step: StepView }): ReactNode {
  const time = duration(step.startedAt, step.finishedAt ?? undefined);
  if (step.exitCode === null) return <span className="step-outcome running">{time}</span>;
  return (
    <span className={`step-outcome ${step.exitCode === 0 ? 'ok' : 'failed'}`}>
      {step.exitCode === 0 ? '' : `exit ${step.exitCode} · `}
      {time}
    </span>
  );
}

function Lines({ lines }: { lines: LogLine[] }): ReactNode {
  return lines.map((line) => <Line key={line.n} line={line} />);
}

// A line object is replaced only when it changes (an open line continued): unchanged lines skip
// rendering on every new chunk.
const Line = memo(function Line({ line }: { line: LogLine }): ReactNode {
  return (
    <div className="line" id={`L${line.n}`}>
      <span className="ln" data-n={line.n} aria-hidden="true" />
      <span className="text">
        {line.spans.map((span, i) => (
          <SpanText key={i} span={span} />
        ))}
      </span>
    </div>
  );
});

function SpanText({ span }: { span: Span }): ReactNode {
  const { className, style } = presentation(span.style);
  if (className === '' && style === undefined) return span.text;
  return (
    <span className={className} style={style}>
      {span.text}
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

function sectionsOf(lines: LogLine[], steps: StepView[]): Section[] {
  const sections: Section[] = [];
  const before =
    steps[0] === undefined ? lines : lines.filter((l) => l.n < (steps[0]?.firstLine ?? 0));
  if (before.length > 0) sections.push({ lines: before });
  steps.forEach((step, i) => {
    const end = steps[i + 1]?.firstLine ?? Infinity;
    sections.push({ step, lines: lines.filter((l) => l.n >= step.firstLine && l.n < end) });
  });
  return sections;
}
