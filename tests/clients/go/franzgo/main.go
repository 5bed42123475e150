// The franz-go driver of the client matrix (tests/clients/README.md): one action per run.
//
// franz-go has one client object (kgo.Client) for producing, consuming, group membership and
// admin requests, so kgo.ClientID reaches everything; a forgotten ClientID sends "kgo". Beyond
// the request, the consume action sets DisableAutoCommit (the contract's one synchronous commit
// after the last record read) and ConsumeResetOffset(AtStart) (also franz-go's default, set so
// the contract's "earliest" does not depend on it). Producers keep franz-go's default batch
// compression: snappy where the broker supports it.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"ferry.test/clients/internal/contract"
)

func main() {
	contract.Main(contract.Library{
		Name:     "franz-go",
		Module:   "github.com/twmb/franz-go",
		Metadata: metadata,
		Produce:  produce,
		Consume:  consume,
		Observe:  observe,
	})
}

// logger prints franz-go's info and above to stderr and hands warnings and errors to seen.
type logger struct{ seen func(string) }

func (l logger) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (l logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i+1 < len(keyvals); i += 2 {
		fmt.Fprintf(&b, "; %v: %v", keyvals[i], keyvals[i+1])
	}
	line := b.String()
	(&contract.LogWriter{Prefix: "[franz-go " + level.String() + "] "}).Write([]byte(line + "\n"))
	if l.seen != nil && level <= kgo.LogLevelWarn {
		l.seen(line)
	}
}

func options(req contract.Request, seen func(string), extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(req.Bootstrap),
		kgo.ClientID(req.ClientID),
		kgo.WithLogger(logger{seen}),
	}
	if req.SASL != nil {
		opts = append(opts, kgo.SASL(scram.Auth{User: req.SASL.Username, Pass: req.SASL.Password}.AsSha512Mechanism()))
	}
	return append(opts, extra...)
}

func metadata(ctx context.Context, req contract.Request) ([]string, *string, error) {
	cl, err := kgo.NewClient(options(req, nil)...)
	if err != nil {
		return nil, nil, err
	}
	defer contract.CloseWithin("client", cl.Close)
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	var brokers []string
	for _, b := range resp.Brokers {
		brokers = append(brokers, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	return brokers, resp.ClusterID, nil
}

func produce(ctx context.Context, req contract.Request) (int, error) {
	cl, err := kgo.NewClient(options(req, nil)...)
	if err != nil {
		return 0, err
	}
	defer contract.CloseWithin("client", cl.Close)
	records := make([]*kgo.Record, req.Count)
	for i := range records {
		records[i] = &kgo.Record{Topic: req.Topic, Key: []byte(contract.Key(i)), Value: []byte(contract.Value(i))}
	}
	results := cl.ProduceSync(ctx, records...)
	produced := 0
	for _, r := range results {
		if r.Err == nil {
			produced++
		}
	}
	return produced, results.FirstErr()
}

func consume(ctx context.Context, req contract.Request) ([]string, bool, error) {
	cl, err := kgo.NewClient(options(req, nil,
		kgo.ConsumerGroup(req.Group),
		kgo.ConsumeTopics(req.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)...)
	if err != nil {
		return nil, false, err
	}
	defer contract.CloseWithin("client", cl.Close)
	var values []string
	var last *kgo.Record
	var fetchErr error
	for len(values) < req.Count && ctx.Err() == nil {
		// PollRecords hands out at most the records asked for; the rest stay buffered and
		// are never committed, so a second consume resumes right after the last value.
		fetches := cl.PollRecords(ctx, req.Count-len(values))
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				fetchErr = fe.Err
			}
		}
		fetches.EachRecord(func(r *kgo.Record) {
			values = append(values, string(r.Value))
			last = r
		})
	}
	if last == nil {
		return values, false, fetchErr
	}
	commitCtx, cancel := context.WithTimeout(context.Background(), contract.CloseGrace)
	defer cancel()
	if err := cl.CommitRecords(commitCtx, last); err != nil {
		return values, false, fmt.Errorf("commit: %w", err)
	}
	return values, true, nil
}

func observe(ctx context.Context, req contract.Request, obs *contract.Observation) {
	var extra []kgo.Opt
	if req.Role == "consumer" {
		extra = []kgo.Opt{kgo.ConsumerGroup(req.Group), kgo.ConsumeTopics(req.Topic)}
	}
	cl, err := kgo.NewClient(options(req, obs.Error, extra...)...)
	if err != nil {
		obs.Error(err.Error())
		obs.Fatal()
		return
	}
	if req.Role == "producer" {
		contract.EverySecond(ctx, func(i int) {
			record := &kgo.Record{Topic: req.Topic, Value: []byte(contract.Value(i))}
			cl.Produce(ctx, record, func(_ *kgo.Record, err error) {
				if err != nil {
					seen(obs, err)
					return
				}
				obs.Delivered(1)
			})
		})
	} else {
		for ctx.Err() == nil {
			fetches := cl.PollFetches(ctx)
			for _, fe := range fetches.Errors() {
				seen(obs, fe.Err)
			}
			obs.Delivered(fetches.NumRecords())
		}
	}
	contract.CloseWithin("client", cl.Close)
}

// seen records what the application got back, leaving out the end of the observation itself.
func seen(obs *contract.Observation, err error) {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
	case errors.Is(err, kgo.ErrClientClosed):
		obs.Error(err.Error())
		obs.Fatal()
	default:
		obs.Error(err.Error())
	}
}
