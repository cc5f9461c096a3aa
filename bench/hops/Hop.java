import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;

// Java clients' share of one hop at a steady rate: a consumer's record age on arrival, or a producer's send-to-ack.
public class Hop {
    public static void main(String[] a) throws Exception {
        String mode = a[0], bootstrap = a[1], topic = a[2];
        int partitions = Integer.parseInt(a[3]);
        long seconds = Long.parseLong(a[4]);
        List<Long> lat = Collections.synchronizedList(new ArrayList<>());
        long end = System.currentTimeMillis() + seconds * 1000;
        if (mode.equals("consume")) {
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            p.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
            p.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
            p.put("enable.auto.commit", "false");
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
                List<TopicPartition> tps = new ArrayList<>();
                for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
                c.assign(tps);
                c.seekToEnd(tps);
                while (System.currentTimeMillis() < end) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                        lat.add(System.currentTimeMillis() - r.timestamp());
                    }
                }
            }
        } else {  // produce: `rate` records/s in 10 ms ticks, acks=all, linger.ms as given
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            p.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
            p.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
            p.put("linger.ms", a[6]);
            if (a.length > 8) p.put("max.in.flight.requests.per.connection", a[8]);
            int rate = Integer.parseInt(a[5]);
            byte[] v = new byte[100];
            try (KafkaProducer<byte[], byte[]> pr = new KafkaProducer<>(p)) {
                long start = System.nanoTime(); long sent = 0;
                while (System.currentTimeMillis() < end) {
                    long due = (System.nanoTime() - start) * rate / 1_000_000_000L;
                    while (sent < due) {
                        final long t0 = System.nanoTime();
                        pr.send(a.length > 7 && a[7].equals("sticky") ? new ProducerRecord<>(topic, null, v) : new ProducerRecord<>(topic, (int) (sent % partitions), null, v), (md, ex) -> lat.add((System.nanoTime() - t0) / 1_000_000));
                        sent++;
                    }
                    Thread.sleep(10);
                }
            }
        }
        List<Long> s = new ArrayList<>(lat); Collections.sort(s);
        int n = s.size();
        System.out.printf("java %s n=%d p50=%d p99=%d p999=%d%n", mode, n, s.get(n / 2), s.get(n * 99 / 100), s.get(n * 999 / 1000));
    }
}
