// Real Java Kafka clients (kafka-clients 4.3.1) bootstrapping through the Ferry proxy.
// Single-file program, run by test_proxy_java.py as
//   java -cp 'LIB/*' ProxyClients.java BOOTSTRAP CASE...
// where each CASE is CLIENT_ID;MODE;TOPIC and MODE is plain, scram:USER:PASSWORD or refused.
// For each case it prints one line "RESULT {json}": the cluster id the cluster reported to an
// AdminClient, and how many records a producer wrote and a consumer read back, all with that
// client.id; for `refused` whether the AdminClient failed to get anywhere.

import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ProxyClients {
    static final int RECORDS = 10;

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        for (int i = 1; i < args.length; i++) {
            String[] parts = args[i].split(";", 3);
            String clientId = parts[0], mode = parts[1], topic = parts[2];
            String result;
            try {
                result = mode.equals("refused") ? refused(bootstrap, clientId) : roundTrip(bootstrap, clientId, mode, topic);
            } catch (Exception e) {
                result = "\"client_id\":\"" + clientId + "\",\"error\":\"" + e.toString().replace("\"", "'") + "\"";
            }
            System.out.println("RESULT {" + result + "}");
            System.out.flush();
        }
    }

    static Properties base(String bootstrap, String clientId, String mode) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId);
        if (mode.startsWith("scram:")) {
            String[] cred = mode.split(":", 3);
            p.put("security.protocol", "SASL_PLAINTEXT");
            p.put("sasl.mechanism", "SCRAM-SHA-512");
            p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                    + cred[1] + "\" password=\"" + cred[2] + "\";");
        }
        return p;
    }

    static String refused(String bootstrap, String clientId) {
        Properties p = base(bootstrap, clientId, "plain");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "4000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        try (Admin admin = Admin.create(p)) {
            admin.describeCluster().clusterId().get(10, TimeUnit.SECONDS);
            return "\"client_id\":\"" + clientId + "\",\"refused\":false";
        } catch (Exception e) {
            return "\"client_id\":\"" + clientId + "\",\"refused\":true";
        }
    }

    static String roundTrip(String bootstrap, String clientId, String mode, String topic) throws Exception {
        String clusterId;
        try (Admin admin = Admin.create(base(bootstrap, clientId, mode))) {
            clusterId = admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS);
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        Properties pp = base(bootstrap, clientId, mode);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            for (int i = 0; i < RECORDS; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get(30, TimeUnit.SECONDS);
            }
        }
        Properties cp = base(bootstrap, clientId, mode);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, clientId + ".group");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        int consumed = 0;
        StringBuilder values = new StringBuilder();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            consumer.subscribe(Collections.singletonList(topic));
            long deadline = System.currentTimeMillis() + 30_000;
            while (consumed < RECORDS && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    values.append(consumed == 0 ? "" : ",").append(r.value());
                    consumed++;
                }
            }
            consumer.commitSync();
        }
        return "\"client_id\":\"" + clientId + "\",\"cluster_id\":\"" + clusterId + "\",\"produced\":" + RECORDS
                + ",\"consumed\":" + consumed + ",\"values\":\"" + values + "\"";
    }
}
