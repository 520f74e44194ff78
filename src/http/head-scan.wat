;; head-scan.wat: the line scan of head-reader.ts for a head that lies whole in one buffer,
;; written in WebAssembly so that it can test 16 bytes at once (128-bit SIMD). Assembled into
;; head-scan-wasm.ts by `npm run build:wasm`; the JavaScript side is head-scan.ts.
;;
;; It does only the common case, and does it the same way as HeadReader.scan: a request or
;; status line, field lines "name: value" and the empty line, every byte a LINE_CHAR. Anything
;; else (an empty line before the start line, a field line without a name and a colon, a
;; forbidden byte, a limit reached, a head that does not end inside the bytes given) returns
;; UNSURE, and HeadReader.scan reads the head again from its first byte and decides. So this
;; file never makes an error or a limit decision of its own: for every head it accepts, it
;; finds the same lines, names and values as the JavaScript scan (test/head-scan.test.ts
;; checks that on every parser test input, the fuzzer's inputs among them).
;;
;; Memory (one 64 KiB page is 65,536 bytes):
;;
;;   0        LINE_COUNT: the number of field lines of the head found (i32)
;;   16       TCHAR: 256 bytes, 1 for a tchar (RFC 9110 5.6.2), the table of chars.ts
;;   512      LINES: five i32 per line, offsets into the input: line start, its CR, the end of
;;            the name, the start and the end of the value (OWS trimmed). Entry 0 is the start
;;            line (only its start and CR are written); entries 1.. are the field lines.
;;   16384    INPUT: the head's bytes, copied here by head-scan.ts, then one 0 byte (a control:
;;            every scan stops on it, so no loop needs a bounds test), then room for the 16
;;            bytes a vector load may read past it.

(module
  (memory (export "memory") 2)
  (global $LINE_COUNT (export "LINE_COUNT") i32 (i32.const 0))
  (global $LINES (export "LINES") i32 (i32.const 512))
  (global $INPUT (export "INPUT") i32 (i32.const 16384))
  ;; TCHAR: 1 at ! # $ % & ' * + - . ^ _ ` | ~, the digits and the letters (test/head-scan.test.ts
  ;; checks it against chars.ts).
  (data (i32.const 16) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\01\00\01\01\01\01\01\00\00\01\01\00\01\01\00\01\01\01\01\01\01\01\01\01\01\00\00\00\00\00\00\00\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\00\00\00\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\00\01\00\01\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")

  ;; What scanHead returns when it cannot be sure of the head: read it again in JavaScript.
  (global $UNSURE i32 (i32.const -1))

  ;; The address of the first byte at or after $p that is a control (below 0x20, CR and LF
  ;; among them) or DEL (0x7F), HTAB excepted: the end of a line's run of LINE_CHARs, as
  ;; skipLineChars in chars.ts. Sixteen bytes per test: one vector load, two comparisons of all
  ;; sixteen bytes at once, and i8x16.bitmask, which gathers the top bit of each byte's result
  ;; into the low 16 bits of an i32: bit k is set when byte k stopped the scan. i32.ctz
  ;; (count trailing zeros) is then the index of the first such byte. An HTAB is allowed in a
  ;; line, so the scan goes on past it. The 0 byte after the input ends every scan.
  (func $skipLineChars (param $p i32) (result i32)
    (local $stops i32)
    (local $bytes v128)
    (loop $sixteen
      (local.set $bytes (v128.load (local.get $p)))
      (local.set $stops
        (i8x16.bitmask
          (v128.or
            (i8x16.lt_u (local.get $bytes) (i8x16.splat (i32.const 0x20)))
            (i8x16.eq (local.get $bytes) (i8x16.splat (i32.const 0x7f))))))
      (if (local.get $stops)
        (then
          (local.set $p (i32.add (local.get $p) (i32.ctz (local.get $stops))))
          (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x09 (; HTAB ;)))
            (then (return (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $sixteen)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $sixteen))
    unreachable)

  ;; Whether $cr, where a line's scan stopped, holds CR LF, both before $end (the 0 byte).
  (func $endsInCRLF (param $cr i32) (param $end i32) (result i32)
    (i32.and
      (i32.and
        (i32.eq (i32.load8_u (local.get $cr)) (i32.const 0x0d (; CR ;)))
        (i32.lt_u (i32.add (local.get $cr) (i32.const 1)) (local.get $end)))
      (i32.eq (i32.load8_u offset=1 (local.get $cr)) (i32.const 0x0a (; LF ;)))))

  ;; The head in INPUT[0, $length): returns its length (the offset just past the empty line),
  ;; with LINE_COUNT and LINES filled in, or UNSURE. $maxStartLine and $maxFields are the
  ;; reader's limits ($maxFields no more than LINES has room for); reaching one is UNSURE.
  (func (export "scanHead") (param $length i32) (param $maxStartLine i32) (param $maxFields i32) (result i32)
    (local $end i32)   ;; INPUT + $length: the 0 byte
    (local $line i32)  ;; the first byte of the current line
    (local $name i32)  ;; the end of its name
    (local $value i32) ;; the start of its value
    (local $cr i32)    ;; its CR
    (local $trim i32)  ;; the end of its value
    (local $entry i32) ;; its entry in LINES
    (local $count i32) ;; field lines so far
    (local $b i32)
    (local.set $end (i32.add (global.get $INPUT) (local.get $length)))

    ;; The start line: up to its CR, no longer than $maxStartLine. An empty line before it
    ;; (which a request may have, RFC 9112 2.2) is left to JavaScript.
    (local.set $line (global.get $INPUT))
    (if (i32.eq (i32.load8_u (local.get $line)) (i32.const 0x0d)) (then (return (global.get $UNSURE))))
    (local.set $cr (call $skipLineChars (local.get $line)))
    (if (i32.eqz (call $endsInCRLF (local.get $cr) (local.get $end))) (then (return (global.get $UNSURE))))
    (if (i32.gt_u (i32.sub (local.get $cr) (local.get $line)) (local.get $maxStartLine)) (then (return (global.get $UNSURE))))
    (local.set $entry (global.get $LINES))
    (i32.store offset=0 (local.get $entry) (i32.const 0))
    (i32.store offset=4 (local.get $entry) (i32.sub (local.get $cr) (global.get $INPUT)))

    (loop $fieldLine
      (local.set $line (i32.add (local.get $cr) (i32.const 2)))
      (local.set $entry (i32.add (local.get $entry) (i32.const 20)))

      ;; An empty line ends the head (RFC 9112 2.1).
      (if (i32.eq (i32.load8_u (local.get $line)) (i32.const 0x0d))
        (then
          (if (i32.eqz (call $endsInCRLF (local.get $line) (local.get $end))) (then (return (global.get $UNSURE))))
          (i32.store (global.get $LINE_COUNT) (local.get $count))
          (return (i32.sub (i32.add (local.get $line) (i32.const 2)) (global.get $INPUT)))))
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (if (i32.gt_u (local.get $count) (local.get $maxFields)) (then (return (global.get $UNSURE))))

      ;; field-line = field-name ":" OWS field-value OWS (RFC 9112 5), field-name = token:
      ;; tchars up to the colon, looked up one byte at a time in TCHAR (names are short).
      (local.set $name (local.get $line))
      (block $nameEnd
        (loop $tchar
          ;; TCHAR[b]: the table's address, 16, is the load's offset.
          (br_if $nameEnd (i32.eqz (i32.load8_u offset=16 (i32.load8_u (local.get $name)))))
          (local.set $name (i32.add (local.get $name) (i32.const 1)))
          (br $tchar)))
      (if (i32.or
            (i32.eq (local.get $name) (local.get $line))
            (i32.ne (i32.load8_u (local.get $name)) (i32.const 0x3a (; : ;))))
        (then (return (global.get $UNSURE))))

      ;; OWS = *( SP / HTAB ) before the value; then the value, up to the CR.
      (local.set $value (i32.add (local.get $name) (i32.const 1)))
      (block $valueStart
        (loop $ows
          (local.set $b (i32.load8_u (local.get $value)))
          (br_if $valueStart (i32.and (i32.ne (local.get $b) (i32.const 0x20)) (i32.ne (local.get $b) (i32.const 0x09))))
          (local.set $value (i32.add (local.get $value) (i32.const 1)))
          (br $ows)))
      (local.set $cr (call $skipLineChars (local.get $value)))
      (if (i32.eqz (call $endsInCRLF (local.get $cr) (local.get $end))) (then (return (global.get $UNSURE))))

      ;; OWS after the value, from its end back.
      (local.set $trim (local.get $cr))
      (block $valueEnd
        (loop $ows
          (br_if $valueEnd (i32.le_u (local.get $trim) (local.get $value)))
          (local.set $b (i32.load8_u offset=0 (i32.sub (local.get $trim) (i32.const 1))))
          (br_if $valueEnd (i32.and (i32.ne (local.get $b) (i32.const 0x20)) (i32.ne (local.get $b) (i32.const 0x09))))
          (local.set $trim (i32.sub (local.get $trim) (i32.const 1)))
          (br $ows)))

      (i32.store offset=0 (local.get $entry) (i32.sub (local.get $line) (global.get $INPUT)))
      (i32.store offset=4 (local.get $entry) (i32.sub (local.get $cr) (global.get $INPUT)))
      (i32.store offset=8 (local.get $entry) (i32.sub (local.get $name) (global.get $INPUT)))
      (i32.store offset=12 (local.get $entry) (i32.sub (local.get $value) (global.get $INPUT)))
      (i32.store offset=16 (local.get $entry) (i32.sub (local.get $trim) (global.get $INPUT)))
      (br $fieldLine))
    unreachable)
)
