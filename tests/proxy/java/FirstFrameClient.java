// A real Java Kafka client that opens a connection to a bootstrap server and waits.
// record_first_frames.py runs it against a listener that never answers, captures the first
// request frame, and then kills this process. Single-file program: `java -cp JARS FirstFrameClient.java
// BOOTSTRAP CLIENT_ID`.

import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class FirstFrameClient {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, args[1]);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "60000");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            // Asking for a topic's partitions makes the producer fetch metadata, so it must
            // connect to the bootstrap server; it blocks here until killed.
            producer.partitionsFor("ferry-first-frame-probe");
        }
    }
}
