// Package broker provides the Kafka side of the service's plumbing: the
// embedded Kafka-protocol broker (franz-go's kfake, persisted on disk) used
// when no brokers are configured, client construction, topic creation and a
// health probe that work the same against real Kafka.
package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Embedded is an in-process Kafka-protocol broker listening on a real TCP
// port, so outside clients (kcat, ClickHouse's Kafka engine) can use it.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// StartEmbedded starts the broker on addr with its records and committed
// group offsets persisted under dir, so a restart loses neither.
func StartEmbedded(addr, dir string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded kafka data folder: %w", err)
	}
	// Probe the address first: kfake would report a busy port less clearly.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka cannot listen on %s: %w", addr, err)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.DataDir(filepath.Clean(dir)),
		kfake.ClusterID("leaderboard-embedded"),
	)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	e := &Embedded{cluster: c, addr: ln.Addr().String()}
	if err := e.evictMembers(); err != nil {
		c.Close()
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return e, nil
}

// evictMembers removes the consumer-group members the broker restored from
// its data folder. kfake persists the members of classic groups at shutdown
// and keeps them until their session times out; in the embedded mode every
// consumer lived in the previous process, so a restored member is a leftover
// (ClickHouse's Kafka engine does not leave its group when chDB closes) and
// would hold the group's rebalance for a whole session timeout (45 s).
func (e *Embedded) evictMembers() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	described, err := adm.DescribeGroups(ctx, groups.Groups()...)
	if err != nil {
		return fmt.Errorf("describe groups: %w", err)
	}
	for _, g := range described.Sorted() {
		if len(g.Members) == 0 {
			continue
		}
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = g.Group
		for _, m := range g.Members {
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID = m.MemberID
			lm.InstanceID = m.InstanceID
			req.Members = append(req.Members, lm)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("leave group %s: %w", g.Group, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("leave group %s: %w", g.Group, err)
		}
	}
	return nil
}

// Addr is the address clients connect to.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker and flushes its state to disk.
func (e *Embedded) Close() { e.cluster.Close() }

// NewAdmin returns an admin client on brokers.
func NewAdmin(brokers []string) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("kafka admin client: %w", err)
	}
	return kadm.NewClient(cl), nil
}

// EnsureTopics creates the topics that are missing with the given partition
// count; existing topics are left as they are.
func EnsureTopics(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	resp, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	for _, t := range resp.Sorted() {
		if t.Err != nil && !errors.Is(t.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t.Topic, t.Err)
		}
	}
	return nil
}

// Prober checks that a broker answers a request. kadm's calls use the
// client's cached metadata, which goes on answering for a while after the
// brokers are gone, so the probe sends ApiVersions on the wire.
type Prober struct{ cl *kgo.Client }

// NewProber returns a prober of brokers.
func NewProber(brokers []string) (*Prober, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequestRetries(0))
	if err != nil {
		return nil, fmt.Errorf("kafka probe client: %w", err)
	}
	return &Prober{cl: cl}, nil
}

// Ping fails when no broker answers within ctx.
func (p *Prober) Ping(ctx context.Context) error {
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, p.cl); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// Close releases the prober's connections.
func (p *Prober) Close() { p.cl.Close() }

// Partitions lists the partitions of topic.
func Partitions(ctx context.Context, adm *kadm.Client, topic string) ([]int32, error) {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	t, ok := td[topic]
	if !ok || t.Err != nil {
		return nil, fmt.Errorf("kafka: topic %s not found", topic)
	}
	return t.Partitions.Numbers(), nil
}

// CommittedOffsets returns the group's committed offset of every partition
// of topic (0 where nothing is committed yet).
func CommittedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	parts, err := Partitions(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		out[p] = 0
	}
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("kafka: committed offsets of %s: %w", group, err)
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}
