package loadgen

import (
	"fmt"
	"sync/atomic"
)

// Stats counts what Run did; safe for concurrent use (read it while Run
// runs with Snapshot or String). After Run returns,
// Sent == Accepted + Rejected + Errors.
type Stats struct {
	Sent       atomic.Int64 // records handed to Kafka or put in a POST /events request
	Duplicates atomic.Int64 // of Sent: KindDuplicate
	Late       atomic.Int64 // of Sent: KindLate
	OutOfOrder atomic.Int64 // of Sent: KindOutOfOrder
	Invalid    atomic.Int64 // of Sent: KindInvalid
	Errors     atomic.Int64 // of Sent: not delivered (produce error, HTTP error status or transport error)
	Accepted   atomic.Int64 // http: "accepted" of the 202 answers; kafka: records the broker acknowledged
	Rejected   atomic.Int64 // http: entries of "rejected" in the 202 answers; kafka: always 0
}

// StatsSnapshot is a copy of the counters at one moment.
type StatsSnapshot struct {
	Sent, Duplicates, Late, OutOfOrder, Invalid, Errors, Accepted, Rejected int64
}

// Snapshot reads every counter (each atomically; not all at one instant).
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		Sent:       s.Sent.Load(),
		Duplicates: s.Duplicates.Load(),
		Late:       s.Late.Load(),
		OutOfOrder: s.OutOfOrder.Load(),
		Invalid:    s.Invalid.Load(),
		Errors:     s.Errors.Load(),
		Accepted:   s.Accepted.Load(),
		Rejected:   s.Rejected.Load(),
	}
}

// String is a one-line summary, e.g. "sent=1000 accepted=990 rejected=10
// errors=0 duplicates=10 late=20 out_of_order=50 invalid=10".
func (s *Stats) String() string { return s.Snapshot().String() }

// String is a one-line summary; see Stats.String.
func (s StatsSnapshot) String() string {
	return fmt.Sprintf("sent=%d accepted=%d rejected=%d errors=%d duplicates=%d late=%d out_of_order=%d invalid=%d",
		s.Sent, s.Accepted, s.Rejected, s.Errors, s.Duplicates, s.Late, s.OutOfOrder, s.Invalid)
}

// countSent records that recs were handed to the transport.
func (s *Stats) countSent(recs []Record) {
	var dup, late, ooo, inv int64
	for _, r := range recs {
		switch r.Kind {
		case KindDuplicate:
			dup++
		case KindLate:
			late++
		case KindOutOfOrder:
			ooo++
		case KindInvalid:
			inv++
		}
	}
	s.Sent.Add(int64(len(recs)))
	s.Duplicates.Add(dup)
	s.Late.Add(late)
	s.OutOfOrder.Add(ooo)
	s.Invalid.Add(inv)
}
