#!/usr/bin/env python3
"""Writes the wire fuzzer's seed corpus (fuzz/corpus/wire/) and prints the same frames as the C++
vectors of tests/unit/wire_test.cc. Checksums are computed here, independently of wire/.

Usage: python3 fuzz/make_corpus.py > /dev/null   (run from the repository root)
"""
import os
import struct

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'wire')

def csum(b):
    # RFC 1071 Internet checksum
    if len(b)%2: b=b+b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b))
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
def ip(a): return bytes(int(x) for x in a.split('.'))
def mac(m): return bytes.fromhex(m.replace(':',''))
def ipv4(src,dst,proto,payload,ident=0x1c46,flags_off=0x4000,ttl=64,tos=0,options=b''):
    ihl=(20+len(options))//4
    h=struct.pack('!BBHHHBBH4s4s',0x40|ihl,tos,20+len(options)+len(payload),ident,flags_off,ttl,proto,0,ip(src),ip(dst))+options
    c=csum(h); h=h[:10]+struct.pack('!H',c)+h[12:]
    return h+payload
def udp(src,dst,sp,dp,payload):
    l=8+len(payload)
    u=struct.pack('!HHHH',sp,dp,l,0)+payload
    ph=ip(src)+ip(dst)+struct.pack('!BBH',0,17,l)
    c=csum(ph+u) or 0xffff
    return u[:6]+struct.pack('!H',c)+u[8:]
def tcp(src,dst,header_hex,payload=b''):
    # header_hex: the TCP header as tcpdump -x prints it, checksum field written as 0000
    t=bytes.fromhex(header_hex.replace(' ',''))+payload
    assert len(t)>=20 and t[16:18]==b'\0\0' and (t[12]>>4)*4<=len(t)
    ph=ip(src)+ip(dst)+struct.pack('!BBH',0,6,len(t))
    c=csum(ph+t)
    return t[:16]+struct.pack('!H',c)+t[18:]
def icmp_echo(t,ident,seq,data):
    m=struct.pack('!BBHHH',t,0,0,ident,seq)+data
    c=csum(m); return m[:2]+struct.pack('!H',c)+m[4:]
A='52:54:00:12:34:56'; B='52:54:00:ab:cd:ef'
def eth(dst,src,t,p,vlan=None):
    h=mac(dst)+mac(src)
    if vlan is not None: h+=struct.pack('!HH',0x8100,vlan)
    return h+struct.pack('!H',t)+p
frames={}
arp=struct.pack('!HHBBH',1,0x0800,6,4,1)+mac(A)+ip('192.0.2.1')+bytes(6)+ip('192.0.2.2')
frames['kArpRequest']=eth('ff:ff:ff:ff:ff:ff',A,0x0806,arp+bytes(18))
payload=bytes(range(0x10,0x38))  # 40 bytes, like Linux ping's pattern
frames['kIcmpEcho']=eth(B,A,0x0800,ipv4('192.0.2.1','192.0.2.2',1,icmp_echo(8,0x1234,1,payload)))
frames['kUdpFrame']=eth(B,A,0x0800,ipv4('10.0.0.1','10.0.0.2',17,udp('10.0.0.1','10.0.0.2',5353,53,b'hello pktd!'),ident=0xbeef,flags_off=0))
frames['kVlanFrame']=eth(B,A,0x0800,ipv4('10.1.0.1','10.1.0.2',17,udp('10.1.0.1','10.1.0.2',4000,4001,b'vlan'),ident=7,flags_off=0)+bytes(2),vlan=(5<<13)|100)
igmp=struct.pack('!BBH4s',0x16,0,0,ip('239.1.2.3')); igmp=igmp[:2]+struct.pack('!H',csum(igmp))+igmp[4:]
frames['kIpv4WithOptions']=ipv4('192.0.2.1','239.1.2.3',2,igmp,ident=0,flags_off=0x4000,ttl=1,tos=0xc0,options=bytes.fromhex('94040000'))
fragdata=bytes(range(24))
frames['kFirstFragment']=ipv4('192.0.2.1','192.0.2.2',17,fragdata[:16],ident=0x4242,flags_off=0x2000)
frames['kLastFragment']=ipv4('192.0.2.1','192.0.2.2',17,fragdata[16:],ident=0x4242,flags_off=0x0002)
# TCP (RFC 9293 3.1), laid out as Linux sends it. 10.0.0.1:45678 -> 10.0.0.2:80.
# SYN: seq 0x9f3c2a61, DO 10, flags SYN, window 64240; MSS 1460, SACK-permitted, Timestamps
# (TSval 0x6b1e4f21, TSecr 0), NOP, Window Scale 7.
syn=tcp('10.0.0.1','10.0.0.2','b26e 0050 9f3c2a61 00000000 a002 faf0 0000 0000'
        ' 020405b4 0402080a 6b1e4f21 00000000 01030307')
frames['kTcpSyn']=eth(B,A,0x0800,ipv4('10.0.0.1','10.0.0.2',6,syn,ident=0x3a1c))
# SYN-ACK: seq 0x51a4c0de, ack 0x9f3c2a62, window 65160; MSS 1460, SACK-permitted, Timestamps
# (TSval 0x0c7d21aa, TSecr 0x6b1e4f21), NOP, Window Scale 7.
synack=tcp('10.0.0.2','10.0.0.1','0050 b26e 51a4c0de 9f3c2a62 a012 fe88 0000 0000'
           ' 020405b4 0402080a 0c7d21aa 6b1e4f21 01030307')
frames['kTcpSynAck']=eth(A,B,0x0800,ipv4('10.0.0.2','10.0.0.1',6,synack,ident=0))
# PSH|ACK with data: DO 8, window 502 (scaled), NOP NOP Timestamps.
data=tcp('10.0.0.1','10.0.0.2','b26e 0050 9f3c2a62 51a4c0df 8018 01f6 0000 0000'
         ' 0101080a 6b1e4f2b 0c7d21aa', b'GET / HTTP/1.0\r\n\r\n')
frames['kTcpData']=eth(B,A,0x0800,ipv4('10.0.0.1','10.0.0.2',6,data,ident=0x3a1d))
# ACK with three SACK blocks: DO 15, NOP NOP Timestamps, NOP NOP SACK (length 26).
sack=tcp('10.0.0.2','10.0.0.1','0050 b26e 51a4c0df 9f3c2a74 f010 01fd 0000 0000'
         ' 0101080a 0c7d2200 6b1e4f2b 0101051a 9f3c3000 9f3c3400 9f3c3800 9f3c3c00 9f3c4000 9f3c4400')
frames['kTcpSack']=eth(A,B,0x0800,ipv4('10.0.0.2','10.0.0.1',6,sack,ident=0))
# Bare segments for the fuzzer's direct TCP parse (which uses 10.0.0.1 -> 10.0.0.2): not printed.
# Window Scale, SACK-permitted and four SACK blocks packed into 39 octets: valid, but 44 octets in
# the word-aligned layout emit uses, so not re-emittable.
crowded=tcp('10.0.0.1','10.0.0.2','b26e 0050 9f3c2a62 51a4c0df f010 01f6 0000 0000'
            ' 030307 0402 0522'+' 51a4d000 51a4d100'*4+' 00')
seeds={'tcp_segment_syn':syn,'tcp_segment_data':data,'tcp_segment_crowded':crowded}
os.makedirs(CORPUS, exist_ok=True)
for k,v in seeds.items():
    with open(os.path.join(CORPUS, k), 'wb') as f:
        f.write(v)
out=[]
for k,v in frames.items():
    out.append('// %d octets\nconst Bytes %s = bytes({\n'%(len(v),k))
    for i in range(0,len(v),16):
        out.append('    '+', '.join('0x%02x'%x for x in v[i:i+16])+',\n')
    out.append('});\n\n')
    with open(os.path.join(CORPUS, k[1:].lower()), 'wb') as f:
        f.write(v)
print(''.join(out))
