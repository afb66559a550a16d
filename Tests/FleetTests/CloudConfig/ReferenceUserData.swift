/// Real user-data files from the reference (cloud-config.md §6 and §8), verbatim.
enum ReferenceUserData {
    static let badInput = #"""
    #cloud-config
    hostname:
      - node1
    coreos:
      etcd2:
        discovery: https://discovery.etcd.io/abc
        proxy: sometimes
      fleet:
        public-ip: $public_ipv4
        verbosity: high
        engine_reconcile_interval: 2
        bogus_option: 1
      units:
        - name: fleet.service
          command: launch
          enable: yes-please
      update:
        reboot-strategy: off
      write_files:
        - path: /etc/x
    write_files:
      - path: /usr/share/foo
        permissions: 0999
        encoding: base64
        content: "!!!notbase64"
      - path: /etc/ok
        permissions: "0644"
    ssh_authorized_keys: ssh-rsa AAAA
    users:
      - name: core
        groups: docker
    """#

    static let vagrantSample = #"""
    #cloud-config

    coreos:
      etcd2:
        #generate a new token for each unique cluster from https://discovery.etcd.io/new
        #discovery: https://discovery.etcd.io/<token>
        # multi-region and multi-cloud deployments need to use $public_ipv4
        advertise-client-urls: http://$public_ipv4:2379
        initial-advertise-peer-urls: http://$private_ipv4:2380
        # listen on both the official ports and the legacy ports
        # legacy ports can be omitted if your application doesn't depend on them
        listen-client-urls: http://0.0.0.0:2379,http://0.0.0.0:4001
        listen-peer-urls: http://$private_ipv4:2380,http://$private_ipv4:7001
      fleet:
        public-ip: $public_ipv4
      flannel:
        interface: $public_ipv4
      units:
        - name: etcd2.service
          command: start
        - name: fleet.service
          command: start
        - name: flanneld.service
          drop-ins:
          - name: 50-network-config.conf
            content: |
              [Service]
              ExecStartPre=/usr/bin/etcdctl set /coreos.com/network/config '{ "Network": "10.1.0.0/16" }'
          command: start
        - name: docker-tcp.socket
          command: start
          enable: true
          content: |
            [Unit]
            Description=Docker Socket for the API

            [Socket]
            ListenStream=2375
            Service=docker.service
            BindIPv6Only=both

            [Install]
            WantedBy=sockets.target
    """#

    static let fleetFunctional = #"""
    #cloud-config

    ---
    coreos:
      etcd2:
        advertise-client-urls: http://$private_ipv4:2379
        listen-client-urls: http://0.0.0.0:2379,http://0.0.0.0:4001
        heartbeat-interval: 600
        election-timeout: 6000
      units:
      - name: etcd2.service
        command: start
      - name: home-core-fleet.mount
        command: start
        content: |
          [Mount]
          What=fleet
          Where=/home/core/fleet
          Type=9p
          Options=rw,trans=virtio,version=9p2000.L
      update:
        reboot-strategy: off
    """#

    static let fleetdCustomUnit = #"""
    #cloud-config

    write_files:
     - path: /etc/fleet/fleet.conf
       content: |
        verbosity=2
        etcd_servers=["http://172.18.0.1:4001"]
        etcd_key_prefix=/fleet_functional/<cluster>
        public_ip=172.18.1.1
        agent_ttl=3s

    ssh_authorized_keys:
     - "ssh-rsa AAAA..."

    coreos:
     units:
      - name: 00-local.network
        content: |
          [Match]
          Name=host0
          [Network]
          Address=172.18.1.1/16
      - name: fleet.socket
        command: start
      - name: fleet-tcp.socket
        command: start
        content: |
         [Socket]
         ListenStream=54728
         Service=fleet.service
      - name: fleet.service
        command: start
        content: |
         [Service]
         Environment=FLEET_METADATA=hostname=%H
         ExecStart=/usr/bin/fleetd -config /etc/fleet/fleet.conf
    """#

    static let docSnippets = #"""
    #cloud-config
    coreos:
      fleet:
          public-ip: "$public_ipv4"
          metadata: "region=us-west"
      units:
        - name: "etcd2.service"
          command: "start"
        - name: "fleet.service"
          command: "start"
        - name: "docker.service"
          drop-ins:
            - name: "50-insecure-registry.conf"
              content: |
                [Service]
                Environment=DOCKER_OPTS='--insecure-registry="10.0.1.0/24"'
        - name: systemd-timesyncd.service
          command: stop
          mask: true
        - name: 00-eth0.network
          runtime: true
          content: |
            [Match]
            Name=eth0

            [Network]
            DNS=1.2.3.4
            Address=10.0.0.101/24
            Gateway=10.0.0.1
    write_files:
      - path: "/etc/resolv.conf"
        permissions: "0644"
        owner: "root"
        content: |
          nameserver 8.8.8.8
      - path: "/tmp/or_like_this"
        permissions: "0644"
        owner: "root"
        encoding: "gzip+base64"
        content: |
          H4sIAKgdh1QAAwtITM5WyK1USMqvUCjPLMlQSMssS1VIya9KzVPIySwszS9SyCpNLwYARQFQ5CcAAAA=
    manage_etc_hosts: "localhost"
    """#

}
