// The segmentio/kafka-go driver of the client matrix (tests/clients/README.md): one action per run.
//
// kafka-go has two connection paths, each with its own client id:
//   - kafka.Transport (used by kafka.Client and kafka.Writer) sends Transport.ClientID; a Writer
//     or Client without a Transport uses kafka.DefaultTransport, whose ClientID is empty;
//   - kafka.Dialer (used by kafka.Reader, its consumer group, kafka.Conn) sends Dialer.ClientID,
//     and when that is empty kafka.DefaultClientID, "<program>@<host> (github.com/segmentio/kafka-go)".
//
// So the driver builds one Transport and one Dialer, both with the request's client id (and
// SASL), and otherwise kafka-go's defaults (DefaultTransport's dial function, DefaultDialer's
// timeout and dual stack). Beyond the request, the writer sets RequiredAcks = RequireAll: a
// kafka.Writer's default is RequireNone (fire and forget), which acknowledges nothing, and the
// contract counts acknowledged records.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"

	"ferry.test/clients/internal/contract"
)

func main() {
	contract.Main(contract.Library{
		Name:     "kafka-go",
		Module:   "github.com/segmentio/kafka-go",
		Metadata: metadata,
		Produce:  produce,
		Consume:  consume,
		Observe:  observe,
	})
}

type conns struct {
	transport *kafka.Transport
	dialer    *kafka.Dialer
}

func connections(req contract.Request) (conns, error) {
	var mechanism sasl.Mechanism
	if req.SASL != nil {
		m, err := scram.Mechanism(scram.SHA512, req.SASL.Username, req.SASL.Password)
		if err != nil {
			return conns{}, err
		}
		mechanism = m
	}
	transport := &kafka.Transport{
		Dial:     kafka.DefaultTransport.(*kafka.Transport).Dial,
		ClientID: req.ClientID,
		SASL:     mechanism,
	}
	dialer := &kafka.Dialer{
		Timeout:       kafka.DefaultDialer.Timeout,
		DualStack:     kafka.DefaultDialer.DualStack,
		ClientID:      req.ClientID,
		SASLMechanism: mechanism,
	}
	return conns{transport, dialer}, nil
}

// logger prints one of kafka-go's loggers to stderr with a prefix, and hands lines to seen.
func logger(prefix string, seen func(string)) kafka.LoggerFunc {
	w := &contract.LogWriter{Prefix: prefix, Seen: seen}
	return func(format string, args ...any) {
		_, _ = fmt.Fprintf(w, format+"\n", args...)
	}
}

func metadata(ctx context.Context, req contract.Request) ([]string, *string, error) {
	c, err := connections(req)
	if err != nil {
		return nil, nil, err
	}
	defer c.transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(req.Bootstrap), Transport: c.transport}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, nil, err
	}
	var brokers []string
	for _, b := range resp.Brokers {
		brokers = append(brokers, net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
	}
	clusterID := resp.ClusterID
	return brokers, &clusterID, nil
}

func writer(req contract.Request, c conns, seen func(string)) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(req.Bootstrap),
		Topic:        req.Topic,
		Transport:    c.transport,
		RequiredAcks: kafka.RequireAll,
		Logger:       logger("[kafka-go writer] ", nil),
		ErrorLogger:  logger("[kafka-go writer error] ", seen),
	}
}

func produce(ctx context.Context, req contract.Request) (int, error) {
	c, err := connections(req)
	if err != nil {
		return 0, err
	}
	w := writer(req, c, nil)
	defer contract.CloseWithin("writer", func() { _ = w.Close() })
	msgs := make([]kafka.Message, req.Count)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(contract.Key(i)), Value: []byte(contract.Value(i))}
	}
	err = w.WriteMessages(ctx, msgs...)
	var failed kafka.WriteErrors
	if errors.As(err, &failed) {
		return req.Count - failed.Count(), err
	}
	if err != nil {
		return 0, err
	}
	return req.Count, nil
}

func reader(req contract.Request, c conns, seen func(string)) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:     []string{req.Bootstrap},
		GroupID:     req.Group,
		Topic:       req.Topic,
		Dialer:      c.dialer,
		StartOffset: kafka.FirstOffset,
		Logger:      logger("[kafka-go reader] ", nil),
		ErrorLogger: logger("[kafka-go reader error] ", seen),
	})
}

func consume(ctx context.Context, req contract.Request) ([]string, bool, error) {
	c, err := connections(req)
	if err != nil {
		return nil, false, err
	}
	r := reader(req, c, nil)
	defer contract.CloseWithin("reader", func() { _ = r.Close() })
	var values []string
	var last *kafka.Message
	var fetchErr error
	for len(values) < req.Count {
		// FetchMessage does not commit; the one commit below covers exactly what was read.
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fetchErr = err
			}
			break
		}
		values = append(values, string(m.Value))
		last = &m
	}
	if last == nil {
		return values, false, fetchErr
	}
	commitCtx, cancel := context.WithTimeout(context.Background(), contract.CloseGrace)
	defer cancel()
	if err := r.CommitMessages(commitCtx, *last); err != nil {
		return values, false, fmt.Errorf("commit: %w", err)
	}
	return values, true, nil
}

func observe(ctx context.Context, req contract.Request, obs *contract.Observation) {
	c, err := connections(req)
	if err != nil {
		obs.Error(err.Error())
		obs.Fatal()
		return
	}
	if req.Role == "producer" {
		w := writer(req, c, obs.Error)
		var inFlight sync.WaitGroup
		contract.EverySecond(ctx, func(i int) {
			// WriteMessages blocks (batch timeout, retries); one goroutine per attempt keeps
			// the one-a-second pace.
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(contract.Value(i))}); err != nil {
					seen(obs, err)
					return
				}
				obs.Delivered(1)
			}()
		})
		contract.CloseWithin("writer", func() {
			inFlight.Wait()
			_ = w.Close()
		})
		return
	}
	r := reader(req, c, obs.Error)
	for ctx.Err() == nil {
		// ReadMessage commits what it returns, as an ordinary group consumer does. Its error
		// does not tell a closed Reader (io.EOF) from a group coordinator that hung up (the
		// same io.EOF, passed on from the consumer group's retries), both wrapped as
		// "fetching message: EOF"; this Reader is closed only below, so every error here is
		// one the Reader recovers from, and the loop goes on.
		if _, err := r.ReadMessage(ctx); err != nil {
			if ctx.Err() == nil {
				obs.Error(err.Error())
			}
			contract.Pause(ctx, 100*time.Millisecond)
			continue
		}
		obs.Delivered(1)
	}
	contract.CloseWithin("reader", func() { _ = r.Close() })
}

// seen records what a writer's caller got back; io.ErrClosedPipe is how a closed Writer
// answers, that is, the writer is unusable for good.
func seen(obs *contract.Observation, err error) {
	if errors.Is(err, io.ErrClosedPipe) {
		obs.Fatal()
	}
	obs.Error(err.Error())
}
