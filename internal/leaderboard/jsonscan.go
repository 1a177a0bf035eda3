package leaderboard

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// A small scanner over JSON text that json.Valid has already accepted. It
// exists because encoding/json's Unmarshal silently keeps the last of
// duplicate keys, folds key case and replaces lone surrogates, while event
// validation must see the object exactly as sent: every member in order, each
// value's raw bytes, and whether a string held a lone surrogate escape.
//
// None of these functions check syntax: on text that is not valid JSON they
// may panic or return garbage.

// member is one name/value pair of a JSON object.
type member struct {
	name string // decoded (escapes resolved, lone surrogates as U+FFFD)
	raw  []byte // the value exactly as sent, without surrounding whitespace
}

// isJSONSpace reports whether c is JSON whitespace (RFC 8259: space, tab, LF, CR).
func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trimJSONSpace removes JSON whitespace from both ends of b.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// skipSpace returns the index of the first non-whitespace byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// objectMembers lists the members of obj, a valid JSON object without
// surrounding whitespace, in the order they were sent.
func objectMembers(obj []byte) []member {
	var out []member
	i := skipSpace(obj, 1)
	if obj[i] == '}' {
		return out
	}
	for {
		end := skipString(obj, i)
		name, _ := decodeString(obj[i:end])
		i = skipSpace(obj, end) // at ':'
		i = skipSpace(obj, i+1) // at the value
		end = skipValue(obj, i) // just past the value
		out = append(out, member{name: name, raw: obj[i:end]})
		i = skipSpace(obj, end) // at ',' or '}'
		if obj[i] == '}' {
			return out
		}
		i = skipSpace(obj, i+1) // at the next name
	}
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte cannot end the string
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // number, true, false, null
		for i < len(b) && !isJSONSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// decodeString decodes a valid JSON string literal (quotes included). ok is
// false when it holds a lone surrogate escape (a \uD800..\uDFFF not part of a
// high-low pair), which is decoded as U+FFFD like encoding/json does.
func decodeString(raw []byte) (s string, ok bool) {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body), true
	}
	ok = true
	buf := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			buf = append(buf, c)
			i++
			continue
		}
		esc := body[i+1]
		i += 2
		switch esc {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := hex4(body[i : i+4])
			i += 4
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
					if lo := hex4(body[i+2 : i+6]); 0xDC00 <= lo && lo <= 0xDFFF {
						buf = utf8.AppendRune(buf, utf16.DecodeRune(r, lo))
						i += 6
						continue
					}
				}
				ok = false
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default: // '"', '\\', '/'
			buf = append(buf, esc)
		}
	}
	return string(buf), ok
}

// hex4 decodes four hexadecimal digits.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		default: // 'A'..'F'
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}
