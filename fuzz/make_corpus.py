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
os.makedirs(CORPUS, exist_ok=True)
out=[]
for k,v in frames.items():
    out.append('// %d octets\nconst Bytes %s = bytes({\n'%(len(v),k))
    for i in range(0,len(v),16):
        out.append('    '+', '.join('0x%02x'%x for x in v[i:i+16])+',\n')
    out.append('});\n\n')
    with open(os.path.join(CORPUS, k[1:].lower()), 'wb') as f:
        f.write(v)
print(''.join(out))
