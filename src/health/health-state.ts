// The health of one server as a small state machine: consecutive passes bring a down server up
// (`rise`), consecutive failures take an up server down (`fall`). `observe` says when it flips.

export class HealthState {
  up = true;
  /** Passes in a row while down, failures in a row while up. */
  private streak = 0;
  /** No check has been observed yet: the very first failure takes the server out at once. */
  private first = true;

  constructor(
    private readonly rise: number,
    private readonly fall: number,
  ) {}

  /** Records one check's result; returns true when the server flipped (up to down or back). */
  observe(ok: boolean): boolean {
    const first = this.first;
    this.first = false;
    if (ok === this.up) {
      this.streak = 0;
      return false;
    }
    this.streak++;
    if (this.streak < (this.up ? (first ? 1 : this.fall) : this.rise)) return false;
    this.up = !this.up;
    this.streak = 0;
    return true;
  }

  /** A failure seen elsewhere (a refused connection): down now, back only after `rise` passes. */
  forceDown(): boolean {
    const flipped = this.up;
    this.up = false;
    this.streak = 0;
    this.first = false;
    return flipped;
  }

  /** Up without a check (`type: none`, which has none): back now. */
  forceUp(): void {
    this.up = true;
    this.streak = 0;
  }
}
