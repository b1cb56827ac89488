// Pen strokes for the ten digits, in a unit square (x right, y down), so a keyboard user (or anyone
// without a mouse) can put a believable digit on the canvas with one button.

export type Stroke = readonly (readonly [number, number])[];

/** Points along an ellipse from angle a0 to a1 (degrees; 0 is to the right, 90 is down). */
function arc(cx: number, cy: number, rx: number, ry: number, a0: number, a1: number): [number, number][] {
  const n = Math.max(8, Math.ceil(Math.abs(a1 - a0) / 10));
  return Array.from({ length: n + 1 }, (_, i) => {
    const a = ((a0 + ((a1 - a0) * i) / n) * Math.PI) / 180;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  });
}

export const DIGIT_STROKES: readonly (readonly Stroke[])[] = [
  [arc(0.5, 0.5, 0.3, 0.4, -90, 275)],
  [[[0.38, 0.24], [0.56, 0.08], [0.56, 0.92]]],
  [[...arc(0.5, 0.32, 0.26, 0.22, 200, 400), [0.24, 0.88], [0.8, 0.88]]],
  [[...arc(0.48, 0.29, 0.24, 0.19, 200, 450), ...arc(0.48, 0.7, 0.27, 0.21, 270, 520)]],
  [[[0.6, 0.92], [0.6, 0.08], [0.18, 0.64], [0.82, 0.64]]],
  [[[0.74, 0.1], [0.36, 0.1], [0.33, 0.45], ...arc(0.5, 0.66, 0.26, 0.23, 235, 520)]],
  [[[0.7, 0.08], [0.52, 0.18], [0.36, 0.38], [0.28, 0.66], ...arc(0.5, 0.68, 0.22, 0.22, 180, 540)]],
  [[[0.2, 0.12], [0.8, 0.12], [0.44, 0.92]]],
  [arc(0.5, 0.28, 0.2, 0.19, 90, 450), arc(0.5, 0.69, 0.25, 0.22, 270, 630)],
  [[...arc(0.48, 0.32, 0.24, 0.21, 0, 360), [0.7, 0.92]]],
];
