package leaderboard

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The cases of testdata/corpus.ndjson, each with its verdict written by hand.
// Values are built from a valid base record by overriding, adding or removing
// members; raw JSON text is written exactly as it must appear on the wire.

type corpusCase struct {
	name  string
	key   string // Kafka record key
	value []byte // record value
	tsMS  int64  // Kafka record timestamp, Unix ms
	want  string // "valid" or a reason code
}

// member of a test record: name as written between the quotes, raw value.
type field struct{ name, raw string }

// absent as a raw value removes the member from the base record.
const absent = "\x00absent"

// corpusTS is the default record timestamp: 2026-12-03T10:15:00.000Z, so the
// latest accepted occurred_at is 2026-12-03T10:20:00.000Z.
var corpusTS = testRecordTime.UnixMilli()

func baseFields() []field {
	return []field{
		{"event_id", `"e1"`},
		{"leaderboard_id", `"b1"`},
		{"player_id", `"amy"`},
		{"score", `100`},
		{"occurred_at", `"2026-12-03T10:00:00Z"`},
	}
}

// f is a member; q wraps already-escaped JSON string content in quotes.
func f(name, raw string) field { return field{name, raw} }
func q(s string) string        { return `"` + s + `"` }

// record renders the base record with overrides: a member of the same name is
// replaced in place, a new one is appended, an absent one is removed.
func record(overrides ...field) string {
	fields := baseFields()
	for _, o := range overrides {
		i := 0
		for ; i < len(fields) && fields[i].name != o.name; i++ {
		}
		switch {
		case i < len(fields) && o.raw == absent:
			fields = append(fields[:i], fields[i+1:]...)
		case i < len(fields):
			fields[i] = o
		case o.raw != absent:
			fields = append(fields, o)
		}
	}
	return render(fields)
}

// render writes members in order, with no whitespace.
func render(fields []field) string {
	parts := make([]string, len(fields))
	for i, m := range fields {
		parts[i] = q(m.name) + ":" + m.raw
	}
	return "{" + strings.Join(parts, ",") + "}"
}

type caseOption func(*corpusCase)

func withKey(k string) caseOption { return func(c *corpusCase) { c.key = k } }
func withTS(ms int64) caseOption  { return func(c *corpusCase) { c.tsMS = ms } }

type corpusBuilder struct{ cases []corpusCase }

// add appends a case. Unless withKey says otherwise, the key is the decoded
// leaderboard_id ":" player_id of the value ("b1" and "amy" standing in for
// anything that is not a decodable string), so that only the key cases
// fail on the key.
func (b *corpusBuilder) add(name, want, value string, opts ...caseOption) {
	c := corpusCase{name: name, key: defaultKey(value), value: []byte(value), tsMS: corpusTS, want: want}
	for _, o := range opts {
		o(&c)
	}
	b.cases = append(b.cases, c)
}

func defaultKey(value string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(value), &m)
	decoded := func(name, fallback string) string {
		var s *string
		if json.Unmarshal(m[name], &s) != nil || s == nil {
			return fallback
		}
		return *s
	}
	return decoded("leaderboard_id", "b1") + ":" + decoded("player_id", "amy")
}

const (
	valid = wantValid
	mal   = string(ReasonMalformedJSON)
	miss  = string(ReasonMissingField)
	inv   = string(ReasonInvalidField)
	score = string(ReasonScoreOutOfRange)
	occ   = string(ReasonOccurredAtOutOfRange)
	keym  = string(ReasonKeyMismatch)
)

func corpusCases() []corpusCase {
	var b corpusBuilder
	structureCases(&b)
	utf8Cases(&b)
	duplicateCases(&b)
	missingCases(&b)
	typeCases(&b)
	eventIDCases(&b)
	boardCases(&b)
	playerCases(&b)
	scoreCases(&b)
	occurredAtCases(&b)
	metadataCases(&b)
	unknownFieldCases(&b)
	keyCases(&b)
	orderCases(&b)
	asciiSweeps(&b)
	return b.cases
}

func structureCases(b *corpusBuilder) {
	base := record()
	b.add("valid base", valid, base)
	b.add("valid leading space", valid, " "+base)
	b.add("valid leading tab LF CR", valid, "\t\n\r"+base)
	b.add("valid trailing LF", valid, base+"\n")
	b.add("valid trailing CRLF", valid, base+"\r\n")
	b.add("valid whitespace between every token", valid,
		"{ \"event_id\" :\t\"e1\" ,\n \"leaderboard_id\"\r:\"b1\" , \"player_id\" : \"amy\" , \"score\" : 100 , \"occurred_at\" : \"2026-12-03T10:00:00Z\" }")
	b.add("valid members in another order", valid,
		`{"occurred_at":"2026-12-03T10:00:00Z","score":100,"player_id":"amy","leaderboard_id":"b1","event_id":"e1"}`)
	b.add("empty value", mal, "")
	b.add("whitespace only", mal, " \n")
	b.add("JSON null", mal, "null")
	b.add("JSON true", mal, "true")
	b.add("JSON number", mal, "123")
	b.add("JSON string", mal, `"hello"`)
	quoted, _ := json.Marshal(base)
	b.add("JSON string holding the event", mal, string(quoted))
	b.add("empty array", mal, "[]")
	b.add("array holding the event", mal, "["+base+"]")
	b.add("cut off as in C4", mal, `{"event_id":"e2","score":`)
	b.add("cut off before the closing brace", mal, base[:len(base)-1])
	b.add("opening brace only", mal, "{")
	b.add("trailing garbage", mal, base+"x")
	b.add("trailing comma after the object", mal, base+",")
	b.add("two objects", mal, base+base)
	b.add("two objects on two lines", mal, base+"\n"+base)
	b.add("two objects in an array", mal, "["+base+","+base+"]")
	b.add("trailing comma inside the object", mal, strings.TrimSuffix(base, "}")+",}")
	b.add("missing comma between members", mal, strings.Replace(base, `,"score"`, ` "score"`, 1))
	b.add("missing colon", mal, strings.Replace(base, `"score":`, `"score" `, 1))
	b.add("single-quoted strings", mal, strings.ReplaceAll(base, `"`, `'`))
	b.add("unquoted key", mal, strings.Replace(base, `"score"`, `score`, 1))
	b.add("line comment after", mal, base+"//c")
	b.add("block comment inside", mal, "{/*c*/"+base[1:])
	b.add("byte order mark before", mal, "\xef\xbb\xbf"+base)
	b.add("form feed before", mal, "\f"+base)
	b.add("vertical tab after", mal, base+"\v")
	b.add("no-break space after", mal, base+"\u00a0")
	b.add("NUL byte after", mal, base+"\x00")
	b.add("raw tab inside player_id", mal, record(f("player_id", "\"a\tb\"")))
	b.add("raw LF inside event_id", mal, record(f("event_id", "\"e\n1\"")))
	b.add("raw NUL inside player_id", mal, record(f("player_id", "\"a\x00\"")))
	b.add("raw 0x1F inside an unknown field", mal, record(f("x", "\"\x1f\"")))
	b.add("raw CR inside metadata", mal, record(f("metadata", "{\"a\":\"\r\"}")))
	b.add("unknown escape \\x", mal, record(f("player_id", `"a\x41"`)))
	b.add("short unicode escape", mal, record(f("player_id", `"a\u41"`)))
	b.add("uppercase \\U escape", mal, record(f("player_id", `"a\U0041"`)))
	b.add("non-hex unicode escape", mal, record(f("player_id", `"a\u00g1"`)))
	b.add("escaped single quote", mal, record(f("player_id", `"a\'b"`)))
	b.add("unterminated string", mal, `{"event_id":"e1`)
	b.add("backslash before the closing quote", mal, `{"event_id":"e1\"}`)
	b.add("unclosed array in an unknown field", mal, strings.TrimSuffix(base, "}")+`,"x":[1,2}`)
	b.add("misspelled true in an unknown field", mal, record(f("x", `tru`)))
	b.add("uppercase TRUE in an unknown field", mal, record(f("x", `TRUE`)))
	b.add("uppercase NULL as metadata", mal, record(f("metadata", `NULL`)))
	b.add("value without a key", mal, `{"e1","leaderboard_id":"b1"}`)
	b.add("object as a key", mal, `{{}:1}`)
	for _, bad := range []string{"NaN", "Infinity", "-Infinity", "+1", "01", "-01", "00", ".5", "1.", "-", "1e", "1e+", "0x10", "1_000", "--1", "1.5.1", "- 1", "1 2"} {
		b.add("malformed number "+bad+" as score", mal, record(f("score", bad)))
	}
}

func utf8Cases(b *corpusBuilder) {
	b.add("invalid UTF-8 0xFF in player_id", mal, record(f("player_id", "\"a\xff\"")))
	b.add("invalid UTF-8 0xFE in event_id", mal, record(f("event_id", "\"e\xfe\"")))
	b.add("overlong slash in player_id", mal, record(f("player_id", "\"a\xc0\xaf\"")))
	b.add("overlong NUL in player_id", mal, record(f("player_id", "\"a\xc0\x80\"")))
	b.add("overlong three-byte slash in player_id", mal, record(f("player_id", "\"a\xe0\x80\xaf\"")))
	b.add("UTF-8 encoded surrogate in player_id", mal, record(f("player_id", "\"a\xed\xa0\x80\"")))
	b.add("CESU-8 emoji in player_id", mal, record(f("player_id", "\"a\xed\xa0\xbd\xed\xb8\x80\"")))
	b.add("code point above U+10FFFF in player_id", mal, record(f("player_id", "\"a\xf4\x90\x80\x80\"")))
	b.add("five-byte sequence in player_id", mal, record(f("player_id", "\"a\xf8\x88\x80\x80\x80\"")))
	b.add("truncated sequence in player_id", mal, record(f("player_id", "\"a\xe2\x82\"")))
	b.add("lone continuation byte in player_id", mal, record(f("player_id", "\"a\x80\"")))
	b.add("Latin-1 Zoë", mal, record(f("player_id", "\"Zo\xeb\"")))
	b.add("invalid UTF-8 in an unknown field", mal, record(f("x", "\"\xff\"")))
	b.add("invalid UTF-8 in metadata", mal, record(f("metadata", "{\"a\":\"\xff\"}")))
	b.add("invalid UTF-8 in a key", mal, record(f("x\xff", "1")))
	b.add("invalid UTF-8 between tokens", mal, "{\xff"+record()[1:])
	b.add("invalid UTF-8 after the object", mal, record()+"\xff")
	b.add("valid U+10FFFF in player_id", valid, record(f("player_id", "\"a\xf4\x8f\xbf\xbf\"")))
	b.add("valid U+FFFF in player_id", valid, record(f("player_id", "\"a\xef\xbf\xbf\"")))
	b.add("valid U+FFFD in player_id", valid, record(f("player_id", "\"a\xef\xbf\xbd\"")))
	b.add("valid U+FEFF in player_id", valid, record(f("player_id", "\"\xef\xbb\xbfa\"")))
	b.add("valid U+2028 in player_id", valid, record(f("player_id", "\"a\u2028b\"")))
	b.add("valid U+0085 (C1 control) in player_id", valid, record(f("player_id", "\"a\u0085\"")))
	b.add("valid U+009F (C1 control) escaped in player_id", valid, record(f("player_id", `"a\u009f"`)))
	b.add("valid U+00A0 in player_id", valid, record(f("player_id", "\"a\u00a0\"")))
}

func duplicateCases(b *corpusBuilder) {
	base := strings.TrimSuffix(record(), "}")
	b.add("duplicate score, same value", mal, base+`,"score":100}`)
	b.add("duplicate score, other value", mal, base+`,"score":5}`)
	b.add("duplicate event_id", mal, base+`,"event_id":"e1"}`)
	b.add("duplicate occurred_at", mal, base+`,"occurred_at":"2026-12-03T10:00:00Z"}`)
	b.add("duplicate unknown field", mal, base+`,"x":1,"x":1}`)
	b.add("duplicate unknown field, null values", mal, base+`,"x":null,"x":null}`)
	b.add("duplicate empty key", mal, base+`,"":1,"":2}`)
	b.add("duplicate score through an escape", mal, base+`,"\u0073core":100}`)
	b.add("duplicate through an escaped slash", mal, base+`,"a/b":1,"a\/b":1}`)
	b.add("duplicate lone surrogate key", mal, base+`,"\ud800":1,"\ud800":2}`)
	b.add("different lone surrogates both decode to U+FFFD", mal, base+`,"\ud800":1,"\udc00":2}`)
	b.add("lone surrogate key duplicates a raw U+FFFD key", mal, base+",\"\\ud800\":1,\"\xef\xbf\xbd\":2}")
	b.add("keys differing in case are not duplicates", valid, base+`,"Score":"x","SCORE":null}`)
	b.add("keys differing by a trailing space are not duplicates", valid, base+`,"score ":1}`)
	b.add("duplicate metadata", mal, base+`,"metadata":{},"metadata":{}}`)
	b.add("metadata duplicate key at its first level", mal, record(f("metadata", `{"a":1,"a":1}`)))
	b.add("metadata duplicate key, other values", mal, record(f("metadata", `{"a":1,"b":2,"a":{"c":3}}`)))
	b.add("metadata duplicate key through an escape", mal, record(f("metadata", `{"a":1,"\u0061":1}`)))
	b.add("metadata duplicate empty key", mal, record(f("metadata", `{"":1,"":1}`)))
	b.add("metadata nested duplicate is opaque", valid, record(f("metadata", `{"a":{"b":1,"b":2}}`)))
	b.add("metadata deeply nested duplicate is opaque", valid, record(f("metadata", `{"a":{"b":{"c":[{"d":1,"d":1}]}}}`)))
	b.add("metadata duplicate inside an array is opaque", valid, record(f("metadata", `{"a":[{"b":1,"b":2}]}`)))
	b.add("metadata same key at two levels", valid, record(f("metadata", `{"a":{"a":1}}`)))
	b.add("duplicate inside an unknown object is opaque", valid, record(f("x", `{"a":1,"a":2}`)))
	b.add("unknown field named Metadata with duplicates", valid, record(f("Metadata", `{"a":1,"a":2}`)))
	b.add("metadata as an array with duplicate-key objects", inv, record(f("metadata", `[{"a":1,"a":2}]`)))
}

func missingCases(b *corpusBuilder) {
	for _, name := range []string{"event_id", "leaderboard_id", "player_id", "score", "occurred_at"} {
		b.add("missing "+name, miss, record(f(name, absent)))
	}
	b.add("empty object", miss, "{}")
	b.add("empty object with whitespace", miss, "{ \n }")
	b.add("only unknown fields", miss, `{"x":1,"y":"z"}`)
	b.add("only metadata", miss, `{"metadata":{}}`)
	b.add("missing score and occurred_at", miss, record(f("score", absent), f("occurred_at", absent)))
	b.add("missing event_id, others invalid", miss, record(f("event_id", absent), f("score", `"x"`), f("player_id", `""`)))
	b.add("missing occurred_at, score invalid", miss, record(f("occurred_at", absent), f("score", `1.5`)))
	b.add("missing player_id, score out of range", miss, record(f("player_id", absent), f("score", `1000000000001`)))
	b.add("missing event_id, present as null elsewhere", miss, `{"leaderboard_id":null}`)
	for _, name := range []string{"Event_id", "EVENT_ID", "eventId", "event-id", "event_id ", " event_id", "eventid"} {
		b.add(fmt.Sprintf("event_id spelled %q is missing", name), miss, record(f("event_id", absent), f(name, `"e1"`)))
	}
	b.add("Score instead of score is missing", miss, record(f("score", absent), f("Score", `100`)))
	b.add("escaped name event_id is present", valid, record(f("event_id", absent), f(`\u0065vent_id`, `"e1"`)))
	b.add("fully escaped name score is present", valid, record(f("score", absent), f(`\u0073\u0063\u006f\u0072\u0065`, `100`)))
	b.add("uppercase and lowercase names both present", valid, record(f("EVENT_ID", `"E"`)))
}

func typeCases(b *corpusBuilder) {
	wrong := []struct{ name, raw string }{
		{"null", "null"}, {"true", "true"}, {"false", "false"}, {"number", "1"},
		{"object", `{}`}, {"array", `[]`}, {"array of a string", `["e1"]`},
	}
	for _, name := range []string{"event_id", "leaderboard_id", "player_id", "occurred_at"} {
		for _, w := range wrong {
			b.add(fmt.Sprintf("%s as %s", name, w.name), inv, record(f(name, w.raw)))
		}
		b.add(name+" as an empty string", inv, record(f(name, `""`)))
	}
	for _, w := range []struct{ name, raw string }{
		{"null", "null"}, {"true", "true"}, {"false", "false"}, {"object", `{}`}, {"array", `[100]`},
		{"string", `"100"`}, {"string abc as in C4", `"abc"`}, {"empty string", `""`},
	} {
		b.add("score as "+w.name, inv, record(f("score", w.raw)))
	}
	for _, w := range []struct{ name, raw string }{
		{"null", "null"}, {"true", "true"}, {"false", "false"}, {"number", "1"}, {"array", `[]`},
		{"array of an object", `[{"a":1}]`}, {"string", `"x"`}, {"string holding an object", `"{}"`}, {"empty string", `""`},
	} {
		b.add("metadata as "+w.name, inv, record(f("metadata", w.raw)))
	}
	b.add("every field null", inv, `{"event_id":null,"leaderboard_id":null,"player_id":null,"score":null,"occurred_at":null}`)
}

func eventIDCases(b *corpusBuilder) {
	b.add("event_id 1 byte", valid, record(f("event_id", q("e"))))
	b.add("event_id 128 bytes", valid, record(f("event_id", q(strings.Repeat("e", 128)))))
	b.add("event_id 129 bytes", inv, record(f("event_id", q(strings.Repeat("e", 129)))))
	b.add("event_id 127 bytes plus an escape is 128", valid, record(f("event_id", q(strings.Repeat("e", 127)+`\u0041`))))
	b.add("event_id 128 bytes plus an escape is 129", inv, record(f("event_id", q(strings.Repeat("e", 128)+`\u0041`))))
	b.add("event_id 64 escaped quotes is 64 bytes", valid, record(f("event_id", q(strings.Repeat(`\"`, 64)))))
	b.add("event_id 129 escaped backslashes", inv, record(f("event_id", q(strings.Repeat(`\\`, 129)))))
	b.add("event_id all printable ASCII", valid, record(f("event_id", q(`!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`+"`"+`abcdefghijklmnopqrstuvwxyz{|}~\"`))))
	b.add("event_id escaped slash", valid, record(f("event_id", q(`a\/b`))))
	b.add("event_id UUID", valid, record(f("event_id", q("0b8f3c2e-6a4d-4c1e-9f5a-2d7e8b1c3a90"))))
	b.add("event_id with a space", inv, record(f("event_id", q("e 1"))))
	b.add("event_id leading space", inv, record(f("event_id", q(" e1"))))
	b.add("event_id trailing escaped LF", inv, record(f("event_id", q(`e1\n`))))
	b.add("event_id with é", inv, record(f("event_id", q("é"))))
	b.add("event_id with an escaped é", inv, record(f("event_id", q(`\u00e9`))))
	b.add("event_id with an escaped emoji pair", inv, record(f("event_id", q(`\ud83d\ude00`))))
	b.add("event_id lone high surrogate", inv, record(f("event_id", q(`e\ud800`))))
	b.add("event_id lone low surrogate", inv, record(f("event_id", q(`e\udfff`))))
	b.add("event_id escaped NUL", inv, record(f("event_id", q(`e\u0000`))))
	b.add("event_id raw DEL", inv, record(f("event_id", q("e\x7f"))))
}

func boardCases(b *corpusBuilder) {
	for _, c := range []struct{ name, id, want string }{
		{"one letter", "a", valid}, {"one digit", "0", valid}, {"digit first", "9z", valid},
		{"ends with underscore", "a_", valid}, {"ends with hyphen", "a-", valid}, {"hyphens only after first", "a--__", valid},
		{"64 characters", strings.Repeat("a", 64), valid}, {"64 characters digit first", "1" + strings.Repeat("-", 63), valid},
		{"65 characters", strings.Repeat("a", 65), inv}, {"starts with underscore", "_a", inv}, {"starts with hyphen", "-a", inv},
		{"underscore only", "_", inv}, {"hyphen only", "-", inv}, {"uppercase", "B1", inv}, {"uppercase inside", "bA", inv},
		{"dot", "a.b", inv}, {"space inside", "a b", inv}, {"trailing space", "b1 ", inv}, {"leading space", " b1", inv},
		{"colon", "b1:x", inv}, {"slash", "b/1", inv}, {"non-ASCII letter", "bä", inv}, {"fullwidth digit", "b１", inv},
		{"escaped trailing LF", `b1\n`, inv}, {"escaped NUL", `b1\u0000`, inv}, {"lone surrogate", `b1\ud800`, inv},
		{"escapes decoding to b1", `\u0062\u0031`, valid}, {"escaped slash", `b\/1`, inv},
	} {
		b.add("leaderboard_id "+c.name, c.want, record(f("leaderboard_id", q(c.id))))
	}
}

func playerCases(b *corpusBuilder) {
	a := strings.Repeat
	for _, c := range []struct{ name, raw, want string }{
		{"1 byte", "a", valid},
		{"single space", " ", valid},
		{"128 ASCII bytes", a("p", 128), valid},
		{"129 ASCII bytes", a("p", 129), inv},
		{"126 bytes plus é is 128", a("p", 126) + "é", valid},
		{"127 bytes plus é is 129", a("p", 127) + "é", inv},
		{"125 bytes plus € is 128", a("p", 125) + "€", valid},
		{"126 bytes plus € is 129", a("p", 126) + "€", inv},
		{"124 bytes plus emoji is 128", a("p", 124) + "\U0001F600", valid},
		{"125 bytes plus emoji is 129", a("p", 125) + "\U0001F600", inv},
		{"64 é is 128 bytes", a("é", 64), valid},
		{"65 é is 130 bytes", a("é", 65), inv},
		{"42 € plus é is 128 bytes", a("€", 42) + "é", valid},
		{"43 € is 129 bytes", a("€", 43), inv},
		{"32 emoji is 128 bytes", a("\U0001F600", 32), valid},
		{"32 emoji plus a is 129 bytes", a("\U0001F600", 32) + "a", inv},
		{"64 escaped é is 128 bytes", a(`\u00e9`, 64), valid},
		{"65 escaped é is 130 bytes", a(`\u00E9`, 65), inv},
		{"32 escaped emoji pairs is 128 bytes", a(`\ud83d\ude00`, 32), valid},
		{"32 escaped emoji pairs plus a", a(`\uD83D\uDE00`, 32) + "a", inv},
		{"128 escaped quotes", a(`\"`, 128), valid},
		{"C14 slash and percent", "a/b%20c", valid},
		{"C14 Zoë", "Zoë", valid},
		{"colons", "a:b:c", valid},
		{"spaces around", " amy ", valid},
		{"escaped A", `\u0041my`, valid},
		{"escaped emoji pair", `a\ud83d\ude00`, valid},
		{"uppercase surrogate escapes", `a\uD83D\uDE00`, valid},
		{"lone high surrogate", `a\ud800`, inv},
		{"lone high surrogate at the start", `\ud83da`, inv},
		{"lone low surrogate", `a\udc00`, inv},
		{"reversed surrogate pair", `a\ude00\ud83d`, inv},
		{"high surrogate then an escaped letter", `a\ud800\u0041`, inv},
		{"two high surrogates then a low one", `a\ud800\ud83d\ude00`, inv},
		{"escaped NUL", `a\u0000`, inv},
		{"escaped 0x1F", `a\u001f`, inv},
		{"escaped DEL", `a\u007f`, inv},
		{"raw DEL", "a\x7f", inv},
		{"escaped tab", `a\t`, inv},
		{"escaped LF", `a\n`, inv},
		{"escaped CR", `a\r`, inv},
		{"escaped backspace", `a\b`, inv},
		{"escaped form feed", `a\f`, inv},
		{"escaped U+0080", `a\u0080`, valid},
		{"escaped U+FFFD", `a\ufffd`, valid},
		{"escaped noncharacter U+FFFE", `a\ufffe`, valid},
		{"escaped slash and backslash", `a\/b\\c`, valid},
		{"NFD e with combining diaeresis", "Zoe\u0308", valid},
	} {
		b.add("player_id "+c.name, c.want, record(f("player_id", q(c.raw))))
	}
}

func scoreCases(b *corpusBuilder) {
	for _, c := range []struct{ raw, want string }{
		{"0", valid}, {"-0", valid}, {"1", valid}, {"-1", valid}, {"100", valid}, {"-30", valid},
		{"999999999999", valid}, {"1000000000000", valid}, {"-1000000000000", valid},
		{"1000000000001", score}, {"-1000000000001", score}, {"9999999999999", score}, {"-9999999999999", score},
		{"10000000000000", score}, {"9223372036854775807", score}, {"9223372036854775808", score},
		{"-9223372036854775808", score}, {"-9223372036854775809", score}, {"18446744073709551616", score},
		{"1" + strings.Repeat("0", 40), score}, {"-" + strings.Repeat("9", 400), score},
		{"1.0", inv}, {"1.5", inv}, {"0.0", inv}, {"-0.0", inv}, {"100.00", inv}, {"1e3", inv}, {"1E3", inv},
		{"1e+3", inv}, {"1e-3", inv}, {"0e0", inv}, {"1e12", inv}, {"1000000000000.0", inv}, {"1.5e13", inv},
		{"1e400", inv}, {"-1e400", inv}, {"1E-400", inv},
	} {
		b.add("score "+c.raw, c.want, record(f("score", c.raw)))
	}
}

func occurredAtCases(b *corpusBuilder) {
	add := func(name, raw, want string, opts ...caseOption) {
		b.add("occurred_at "+name, want, record(f("occurred_at", q(raw))), opts...)
	}
	// Grammar.
	for _, c := range []struct{ name, raw, want string }{
		{"Z", "2026-12-03T10:00:00Z", valid},
		{"one fraction digit", "2026-12-03T10:00:00.1Z", valid},
		{"three fraction digits", "2026-12-03T10:00:00.123Z", valid},
		{"six fraction digits", "2026-12-03T10:00:00.123456Z", valid},
		{"nine fraction digits", "2026-12-03T10:00:00.123456789Z", valid},
		{"ten fraction digits", "2026-12-03T10:00:00.1234567890Z", inv},
		{"dot without digits", "2026-12-03T10:00:00.Z", inv},
		{"comma fraction", "2026-12-03T10:00:00,5Z", inv},
		{"two fractions", "2026-12-03T10:00:00.5.5Z", inv},
		{"+00:00", "2026-12-03T10:00:00+00:00", valid},
		{"-00:00", "2026-12-03T10:00:00-00:00", valid},
		{"+01:00", "2026-12-03T11:00:00+01:00", valid},
		{"-05:30", "2026-12-03T04:30:00-05:30", valid},
		{"+05:45 with fraction", "2026-12-03T15:45:00.5+05:45", valid},
		{"+23:59", "2026-12-03T23:59:00+23:59", valid},
		{"-23:59 past the skew bound", "2026-12-03T10:00:00-23:59", occ},
		{"+24:00", "2026-12-03T10:00:00+24:00", inv},
		{"-24:00", "2026-12-03T10:00:00-24:00", inv},
		{"offset minute 60", "2026-12-03T10:00:00+00:60", inv},
		{"offset without colon", "2026-12-03T10:00:00+0100", inv},
		{"offset hour only", "2026-12-03T10:00:00+01", inv},
		{"offset one-digit hour", "2026-12-03T10:00:00+1:00", inv},
		{"offset with seconds", "2026-12-03T10:00:00+01:00:00", inv},
		{"space before offset", "2026-12-03T10:00:00 +01:00", inv},
		{"Z and offset", "2026-12-03T10:00:00Z+01:00", inv},
		{"double Z", "2026-12-03T10:00:00ZZ", inv},
		{"no zone", "2026-12-03T10:00:00", inv},
		{"no zone with fraction", "2026-12-03T10:00:00.000", inv},
		{"UTC suffix", "2026-12-03T10:00:00UTC", inv},
		{"space then Z", "2026-12-03T10:00:00 Z", inv},
		{"lowercase t", "2026-12-03t10:00:00Z", inv},
		{"lowercase z", "2026-12-03T10:00:00z", inv},
		{"space instead of T", "2026-12-03 10:00:00Z", inv},
		{"underscore instead of T", "2026-12-03_10:00:00Z", inv},
		{"no seconds", "2026-12-03T10:00Z", inv},
		{"date only", "2026-12-03", inv},
		{"time only", "10:00:00Z", inv},
		{"one-digit month", "2026-1-03T10:00:00Z", inv},
		{"one-digit day", "2026-12-3T10:00:00Z", inv},
		{"one-digit hour", "2026-12-03T1:00:00Z", inv},
		{"two-digit year", "26-12-03T10:00:00Z", inv},
		{"five-digit year", "02026-12-03T10:00:00Z", inv},
		{"signed year", "+2026-12-03T10:00:00Z", inv},
		{"slashes", "2026/12/03T10:00:00Z", inv},
		{"compact basic format", "20261203T100000Z", inv},
		{"leading space", " 2026-12-03T10:00:00Z", inv},
		{"trailing space", "2026-12-03T10:00:00Z ", inv},
		{"trailing escaped LF", `2026-12-03T10:00:00Z\n`, inv},
		{"escaped NUL after", `2026-12-03T10:00:00Z\u0000`, inv},
		{"fullwidth digits", "２０２６-12-03T10:00:00Z", inv},
		{"Arabic-Indic digit", "٢026-12-03T10:00:00Z", inv},
		{"Unix milliseconds as a string", "1796292000000", inv},
		{"RFC 1123", "Thu, 03 Dec 2026 10:00:00 GMT", inv},
		{"escaped digit", `\u0032026-12-03T10:00:00Z`, valid},
		{"escaped T and Z", `2026-12-03\u005410:00:00\u005a`, valid},
		{"lone surrogate", `2026-12-03T10:00:00Z\ud800`, inv},
		// Calendar and clock.
		{"leap day 2024", "2024-02-29T12:00:00Z", valid},
		{"leap day 2000", "2000-02-29T00:00:00Z", valid},
		{"Feb 29 2025", "2025-02-29T00:00:00Z", inv},
		{"Feb 29 2100 (not leap)", "2100-02-29T00:00:00Z", inv},
		{"Feb 29 1900 (not leap, also too old)", "1900-02-29T00:00:00Z", inv},
		{"Feb 30 2024", "2024-02-30T00:00:00Z", inv},
		{"Feb 28 2025", "2025-02-28T23:59:59.999Z", valid},
		{"Apr 31", "2025-04-31T00:00:00Z", inv},
		{"Jun 31", "2025-06-31T00:00:00Z", inv},
		{"Sep 31", "2025-09-31T00:00:00Z", inv},
		{"Nov 31", "2025-11-31T00:00:00Z", inv},
		{"Jan 31", "2025-01-31T00:00:00Z", valid},
		{"Dec 31", "2025-12-31T23:59:59.999999999Z", valid},
		{"Dec 32", "2025-12-32T00:00:00Z", inv},
		{"month 13", "2025-13-01T00:00:00Z", inv},
		{"month 00", "2025-00-01T00:00:00Z", inv},
		{"day 00", "2025-12-00T00:00:00Z", inv},
		{"hour 23", "2025-12-03T23:00:00Z", valid},
		{"hour 24", "2025-12-03T24:00:00Z", inv},
		{"minute 59", "2025-12-03T10:59:00Z", valid},
		{"minute 60", "2025-12-03T10:60:00Z", inv},
		{"second 59", "2025-12-03T10:00:59Z", valid},
		{"second 60 (leap second)", "2016-12-31T23:59:60Z", inv},
		{"second 61", "2025-12-03T10:00:61Z", inv},
		{"year 0000", "0000-01-01T00:00:00Z", occ},
		{"year 0001", "0001-01-01T00:00:00Z", occ},
		{"year 1900", "1900-01-01T00:00:00Z", occ},
		{"Unix epoch", "1970-01-01T00:00:00Z", occ},
		{"year 9999", "9999-12-31T23:59:59.999999999Z", occ},
		{"year 9999 with -23:59 (UTC year 10000)", "9999-12-31T23:59:59-23:59", occ},
		{"year 0000 with +23:59 (UTC year -1)", "0000-01-01T00:00:00+23:59", occ},
		// The lower bound.
		{"2000-01-01 exactly", "2000-01-01T00:00:00Z", valid},
		{"2000-01-01 exactly with fraction zeros", "2000-01-01T00:00:00.000000000Z", valid},
		{"1 ms before 2000", "1999-12-31T23:59:59.999Z", occ},
		{"1 ns before 2000", "1999-12-31T23:59:59.999999999Z", occ},
		{"2000-01-01 00:00 at +00:01 is 1999", "2000-01-01T00:00:00+00:01", occ},
		{"2000-01-01 00:59:59.999 at +01:00 is 1999", "2000-01-01T00:59:59.999+01:00", occ},
		{"1999-12-31 23:00 at -01:00 is 2000", "1999-12-31T23:00:00-01:00", valid},
		{"1999-12-31 19:00 at -05:00 is 2000", "1999-12-31T19:00:00-05:00", valid},
		{"1999-12-31 18:59:59.999 at -05:00 is 1999", "1999-12-31T18:59:59.999-05:00", occ},
		// The upper bound: record timestamp 10:15:00.000Z + 5m = 10:20:00.000Z.
		{"at the record timestamp", "2026-12-03T10:15:00Z", valid},
		{"exactly timestamp + 5m", "2026-12-03T10:20:00Z", valid},
		{"exactly timestamp + 5m, .000", "2026-12-03T10:20:00.000Z", valid},
		{"timestamp + 5m + 0.999999 ms truncates to the bound", "2026-12-03T10:20:00.000999999Z", valid},
		{"timestamp + 5m + 1 ms", "2026-12-03T10:20:00.001Z", occ},
		{"timestamp + 5m + 1 s", "2026-12-03T10:20:01Z", occ},
		{"timestamp + 5m at +01:00", "2026-12-03T11:20:00+01:00", valid},
		{"timestamp + 5m + 1 ms at +01:00", "2026-12-03T11:20:00.001+01:00", occ},
		{"timestamp + 5m at -05:00", "2026-12-03T05:20:00-05:00", valid},
		{"timestamp + 5m + 1 ms at -05:00", "2026-12-03T05:20:00.001-05:00", occ},
		{"timestamp + 5m at +14:00, next local day", "2026-12-04T00:20:00+14:00", valid},
		{"next day", "2026-12-04T00:00:00Z", occ},
		{"one year ago", "2025-12-03T10:00:00Z", valid},
	} {
		add(c.name, c.raw, c.want)
	}
	// Other record timestamps.
	ms := func(s string) int64 { return utc(s).UnixMilli() }
	add("record at 2000-01-01, event 5m later", "2000-01-01T00:05:00Z", valid, withTS(ms("2000-01-01T00:00:00Z")))
	add("record at 2000-01-01, event 5m 1ms later", "2000-01-01T00:05:00.001Z", occ, withTS(ms("2000-01-01T00:00:00Z")))
	add("record before 2000, event at 2000 beyond skew", "2000-01-01T00:00:00Z", occ, withTS(ms("1999-12-31T23:00:00Z")))
	add("record at the Unix epoch", "2026-12-03T10:00:00Z", occ, withTS(0))
	add("record timestamp with milliseconds", "2026-12-03T10:20:00.123Z", valid, withTS(ms("2026-12-03T10:15:00.123Z")))
	add("record timestamp with milliseconds, 1 ms past", "2026-12-03T10:20:00.124Z", occ, withTS(ms("2026-12-03T10:15:00.123Z")))
	add("record timestamp in 2200", "2200-01-01T00:04:59.999Z", valid, withTS(ms("2200-01-01T00:00:00Z")))
	add("record timestamp far in the past of the event", "2026-12-03T10:00:00Z", occ, withTS(ms("2026-12-03T09:54:59.999Z")))
	add("record timestamp exactly 5m before the event", "2026-12-03T10:00:00Z", valid, withTS(ms("2026-12-03T09:55:00Z")))
}

func metadataCases(b *corpusBuilder) {
	// sized returns {"k":"xxx..."} of exactly n bytes.
	sized := func(n int) string { return `{"k":"` + strings.Repeat("x", n-8) + `"}` }
	withSpaces := func(n int) string { return "{" + strings.Repeat(" ", n-2) + "}" }
	for _, c := range []struct{ name, raw, want string }{
		{"empty object", `{}`, valid},
		{"simple", `{"a":1}`, valid},
		{"nested", `{"a":{"b":[1,2,{"c":null}]},"d":"e"}`, valid},
		{"with whitespace", "{ \"a\" :\t[ 1 , 2 ]\n}", valid},
		{"all JSON types", `{"s":"x","n":-1.5e-3,"t":true,"f":false,"z":null,"a":[],"o":{}}`, valid},
		{"1024 bytes", sized(1024), valid},
		{"1025 bytes", sized(1025), inv},
		{"2048 bytes", sized(2048), inv},
		{"1024 bytes of inner whitespace", withSpaces(1024), valid},
		{"1025 bytes of inner whitespace (compacts to 2)", withSpaces(1025), inv},
		{"1024 bytes with é counted as 2", `{"k":"` + strings.Repeat("é", 508) + `"}`, valid},
		{"1025 bytes with é counted as 2", `{"k":"` + strings.Repeat("é", 508) + `x"}`, inv},
		{"1024 bytes with escapes counted as sent", `{"k":"` + strings.Repeat(`\u00e9`, 169) + `xx"}`, valid},
		{"1025 bytes with escapes counted as sent", `{"k":"` + strings.Repeat(`\u00e9`, 169) + `xxx"}`, inv},
		{"escaped NUL inside", `{"a":"\u0000"}`, valid},
		{"lone surrogate inside", `{"a":"\ud800"}`, valid},
		{"lone surrogate as a key", `{"\udc00":1}`, valid},
		{"huge number inside", `{"a":1e999}`, valid},
		{"HTML characters inside", `{"a":"<b>&amp;</b>"}`, valid},
		{"deep nesting", strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), valid},
	} {
		b.add("metadata "+c.name, c.want, record(f("metadata", c.raw)))
	}
	base := strings.TrimSuffix(record(), "}")
	b.add("metadata 1024 bytes with whitespace around it", valid, base+",\"metadata\" : \n"+sized(1024)+" \n}")
	b.add("metadata first", valid, `{"metadata":{"a":1},`+record()[1:])
	b.add("metadata absent", valid, record())
}

func unknownFieldCases(b *corpusBuilder) {
	for _, c := range []struct{ name, raw string }{
		{"null", "null"}, {"string", `"x"`}, {"number with exponent", "1e999"}, {"array", `[1,"a",null]`},
		{"object", `{"a":{"b":1}}`}, {"empty string key", `1`}, {"big string", q(strings.Repeat("y", 4096))},
	} {
		name := "x"
		if c.name == "empty string key" {
			name = ""
		}
		b.add("unknown field "+c.name, valid, record(f(name, c.raw)))
	}
	b.add("unknown fields first and last", valid, `{"a":1,`+record()[1:len(record())-1]+`,"z":2}`)
	b.add("unknown field with a lone surrogate", valid, record(f("x", `"\ud800"`)))
	b.add("unknown field with invalid event-like content", valid, record(f("x", `{"score":"abc","event_id":null}`)))
	b.add("deeply nested unknown field", valid, record(f("x", strings.Repeat("[", 500)+strings.Repeat("]", 500))))
}

func keyCases(b *corpusBuilder) {
	b.add("key C7 b1:bob for amy", keym, record(), withKey("b1:bob"))
	b.add("key empty", keym, record(), withKey(""))
	b.add("key board only", keym, record(), withKey("b1"))
	b.add("key board and colon", keym, record(), withKey("b1:"))
	b.add("key player only", keym, record(), withKey("amy"))
	b.add("key without colon", keym, record(), withKey("b1amy"))
	b.add("key with a slash separator", keym, record(), withKey("b1/amy"))
	b.add("key with a double colon", keym, record(), withKey("b1::amy"))
	b.add("key reversed", keym, record(), withKey("amy:b1"))
	b.add("key trailing space", keym, record(), withKey("b1:amy "))
	b.add("key trailing LF", keym, record(), withKey("b1:amy\n"))
	b.add("key leading space", keym, record(), withKey(" b1:amy"))
	b.add("key player case", keym, record(), withKey("b1:Amy"))
	b.add("key board case", keym, record(), withKey("B1:amy"))
	b.add("key with a trailing NUL", keym, record(), withKey("b1:amy\x00"))
	b.add("key of the escaped text, not the decoded id", keym, record(f("player_id", q(`\u0041my`))), withKey(`b1:\u0041my`))
	b.add("key of the decoded id", valid, record(f("player_id", q(`\u0041my`))), withKey("b1:Amy"))
	b.add("key NFD for an NFC player id", keym, record(f("player_id", q("Zoë"))), withKey("b1:Zoe\u0308"))
	b.add("key NFC for an NFC player id", valid, record(f("player_id", q("Zoë"))), withKey("b1:Zoë"))
	b.add("key with colons in the player id", valid, record(f("player_id", q("a:b"))), withKey("b1:a:b"))
	b.add("key splitting a colon player id elsewhere", keym, record(f("player_id", q("a:b"))), withKey("b1:a"))
	b.add("key with an escaped quote in the player id", valid, record(f("player_id", q(`\"q\"`))), withKey(`b1:"q"`))
	b.add("key C14 slash and percent", valid, record(f("leaderboard_id", q("b5")), f("player_id", q("a/b%20c"))), withKey("b5:a/b%20c"))
	b.add("key C14 percent-decoded is wrong", keym, record(f("leaderboard_id", q("b5")), f("player_id", q("a/b%20c"))), withKey("b5:a/b c"))
	b.add("key of another board", keym, record(), withKey("b2:amy"))
	b.add("key 193 bytes for the longest ids", valid,
		record(f("leaderboard_id", q(strings.Repeat("b", 64))), f("player_id", q(strings.Repeat("é", 64)))),
		withKey(strings.Repeat("b", 64)+":"+strings.Repeat("é", 64)))
}

func orderCases(b *corpusBuilder) {
	base := strings.TrimSuffix(record(), "}")
	tooOld := f("occurred_at", q("1999-12-31T23:59:59Z"))
	tooBig := f("score", "1000000000001")
	bigMeta := f("metadata", `{"k":"`+strings.Repeat("x", 1017)+`"}`)
	b.add("order: invalid UTF-8 and a duplicate key", mal, base+",\"x\":\"\xff\",\"score\":1}")
	b.add("order: duplicate key and missing fields", mal, `{"score":1,"score":2}`)
	b.add("order: metadata duplicate and missing fields", mal, `{"metadata":{"a":1,"a":2}}`)
	b.add("order: metadata duplicate and too big", mal, record(f("metadata", `{"a":1,"a":"`+strings.Repeat("x", 2000)+`"}`)))
	b.add("order: duplicate key and key mismatch", mal, base+`,"score":1}`, withKey("b1:bob"))
	b.add("order: trailing garbage and everything invalid", mal, `{"score":"x"} x`)
	b.add("order: missing field and key mismatch", miss, record(f("event_id", absent)), withKey("zz:zz"))
	b.add("order: missing field and occurred_at too old", miss, record(f("event_id", absent), tooOld))
	b.add("order: invalid event_id and score out of range", inv, record(f("event_id", `""`), tooBig))
	b.add("order: invalid occurred_at and score out of range", inv, record(f("occurred_at", q("2026-12-03")), tooBig))
	b.add("order: invalid metadata and score out of range", inv, record(f("metadata", `[]`), tooBig))
	b.add("order: metadata too big and occurred_at out of range", inv, record(bigMeta, tooOld))
	b.add("order: metadata too big and key mismatch", inv, record(bigMeta), withKey("b1:bob"))
	b.add("order: invalid player_id and key mismatch", inv, record(f("player_id", q(`a\u0000`))), withKey("b1:bob"))
	b.add("order: huge score and occurred_at too old", score, record(f("score", strings.Repeat("9", 30)), tooOld))
	b.add("order: score out of range and key mismatch", score, record(tooBig), withKey("b1:bob"))
	b.add("order: score out of range, too new, key mismatch", score, record(f("score", "-1000000000001"), f("occurred_at", q("2030-01-01T00:00:00Z"))), withKey(""))
	b.add("order: occurred_at too old and key mismatch", occ, record(tooOld), withKey("b1:bob"))
	b.add("order: occurred_at too new and key mismatch", occ, record(f("occurred_at", q("2026-12-03T10:20:00.001Z"))), withKey("b1:bob"))
	b.add("order: non-integer huge score is invalid, not out of range", inv, record(f("score", "1e100")))
	b.add("order: out-of-range score with an invalid occurred_at", inv, record(tooBig, f("occurred_at", q("2026-02-30T00:00:00Z"))))
}

// asciiSweeps try every ASCII byte in each id: raw where JSON allows it (the
// quote and the backslash through their short escapes) and, for event_id and
// player_id, as a \u escape too.
func asciiSweeps(b *corpusBuilder) {
	rawJSON := func(c byte) string {
		switch c {
		case '"':
			return `\"`
		case '\\':
			return `\\`
		}
		return string([]byte{c})
	}
	for c := byte(0x20); c < 0x80; c++ {
		want := inv
		if 0x21 <= c && c <= 0x7E {
			want = valid
		}
		b.add(fmt.Sprintf("event_id sweep raw 0x%02X", c), want, record(f("event_id", q("e"+rawJSON(c)))))
	}
	for c := byte(0); c < 0x80; c++ {
		want := inv
		if 0x21 <= c && c <= 0x7E {
			want = valid
		}
		b.add(fmt.Sprintf("event_id sweep escaped 0x%02X", c), want, record(f("event_id", q(fmt.Sprintf(`e\u%04x`, c)))))
	}
	for c := byte(0x20); c < 0x80; c++ {
		want := valid
		if c == 0x7F {
			want = inv
		}
		b.add(fmt.Sprintf("player_id sweep raw 0x%02X", c), want, record(f("player_id", q("p"+rawJSON(c)))))
	}
	for c := byte(0); c < 0x80; c++ {
		want := valid
		if c < 0x20 || c == 0x7F {
			want = inv
		}
		b.add(fmt.Sprintf("player_id sweep escaped 0x%02X", c), want, record(f("player_id", q(fmt.Sprintf(`p\u%04X`, c)))))
	}
	for c := byte(0x20); c < 0x80; c++ {
		want := inv
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			want = valid
		}
		b.add(fmt.Sprintf("leaderboard_id sweep raw 0x%02X", c), want, record(f("leaderboard_id", q("b"+rawJSON(c)))))
		first := inv
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			first = valid
		}
		b.add(fmt.Sprintf("leaderboard_id sweep first raw 0x%02X", c), first, record(f("leaderboard_id", q(rawJSON(c)+"b"))))
	}
}
