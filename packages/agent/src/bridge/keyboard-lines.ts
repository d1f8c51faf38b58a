/**
 * Turns keystrokes typed at the local terminal (raw mode: one key at a time) into the lines
 * they make, so local input can be published as whole `input` entries like a collaborator's.
 * A small line editor: printable characters append, Backspace/Delete remove the last one,
 * Ctrl-C and Ctrl-U discard the line, Enter ends it; escape sequences (arrow keys, function
 * keys) and other control characters are skipped. One pass over each chunk, no backtracking.
 */
export class KeyboardLines {
  /** Code points, so Backspace removes one character in O(1). */
  private line: string[] = []
  private escape: 'none' | 'start' | 'csi' | 'ss3' = 'none'

  /** Feeds typed data; returns the lines it completed. */
  feed(data: string): string[] {
    const lines: string[] = []
    for (const char of data) {
      if (this.skipEscape(char)) continue
      switch (char) {
        case '\r':
        case '\n':
          if (this.line.length > 0) lines.push(this.line.join(''))
          this.line = []
          break
        case '\x7F':
        case '\b':
          this.line.pop()
          break
        case '\x03':
        case '\x15':
          this.line = []
          break
        case '\x1B':
          this.escape = 'start'
          break
        default:
          if (char >= ' ') this.line.push(char)
      }
    }
    return lines
  }

  /** Consumes the characters of an escape sequence: ESC [ params final, ESC O x, or ESC x. */
  private skipEscape(char: string): boolean {
    switch (this.escape) {
      case 'none':
        return false
      case 'start':
        this.escape = char === '[' ? 'csi' : char === 'O' ? 'ss3' : 'none'
        return true
      case 'csi':
        if (char >= '@' && char <= '~') this.escape = 'none'
        return true
      case 'ss3':
        this.escape = 'none'
        return true
    }
  }
}
