//! Building HJ 212 frames: the 9014 data acknowledgement weijian sends back, and data frames
//! for tests and the device simulator.

use std::fmt::Write as _;

use alerting::model::{DataFlag, Stat};

use super::crc::crc16;

/// Wraps a data segment into a complete frame: `##` + 4-digit length (bytes) + data segment +
/// 4 upper-case hex CRC + CRLF. A segment over 9999 bytes cannot be framed and gets a
/// length field of `9999` (decoders will reject it).
pub fn wrap_frame(data_segment: &str) -> String {
    let len = data_segment.len().min(9999);
    let mut frame = String::with_capacity(data_segment.len() + 12);
    let _ = write!(
        frame,
        "##{len:04}{data_segment}{:04X}\r\n",
        crc16(data_segment.as_bytes())
    );
    frame
}

/// The 9014 data acknowledgement (Annex C tables C.14-C.18) for an upload with
/// Flag bit A = 1: `QN=<echo>;ST=91;CN=9014;PW=<pw>;MN=<mn>;Flag=4;CP=&&&&`, as a complete
/// frame. `QN`/`PW` are left out when the upload had none.
pub fn ack_9014(qn: Option<&str>, pw: Option<&str>, mn: &str) -> String {
    let mut data = String::with_capacity(96);
    if let Some(qn) = qn {
        let _ = write!(data, "QN={qn};");
    }
    data.push_str("ST=91;CN=9014;");
    if let Some(pw) = pw {
        let _ = write!(data, "PW={pw};");
    }
    let _ = write!(data, "MN={mn};Flag=4;CP=&&&&");
    wrap_frame(&data)
}

/// A request acknowledgement (CN 9011, Table 7 `QnRtn`) weijian sends on a TCP connection
/// for a frame it refused: 3 PW error, 4 MN error, 9 CRC error. The standard defines 9011 as
/// the answer to a request and gives data uploads only 9014, which has no return code; a
/// 9011 is the one reply that can say why, and a logger that does not know it ignores it and
/// resends after its timeout as it would without an answer.
/// `QN=<echo>;ST=91;CN=9011;PW=<pw>;MN=<mn>;Flag=4;CP=&&QnRtn=<code>&&`.
pub fn reply_9011(qn: Option<&str>, pw: Option<&str>, mn: &str, qn_rtn: u16) -> String {
    let mut data = String::with_capacity(96);
    if let Some(qn) = qn {
        let _ = write!(data, "QN={qn};");
    }
    data.push_str("ST=91;CN=9011;");
    if let Some(pw) = pw {
        let _ = write!(data, "PW={pw};");
    }
    let _ = write!(data, "MN={mn};Flag=4;CP=&&QnRtn={qn_rtn}&&");
    wrap_frame(&data)
}

/// `QnRtn` (HJ 212-2017 Table 7) codes weijian sends.
pub mod qn_rtn {
    /// PW error.
    pub const PW_ERROR: u16 = 3;
    /// MN error.
    pub const MN_ERROR: u16 = 4;
    /// CRC error.
    pub const CRC_ERROR: u16 = 9;
}

/// A frame to build. Optional header fields are left out when `None` (2005 style).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameBuilder {
    /// `QN=`; left out when `None`.
    pub qn: Option<String>,
    /// `ST=`; left out when `None`.
    pub st: Option<String>,
    /// `CN=`.
    pub cn: u16,
    /// `PW=`; left out when `None`.
    pub pw: Option<String>,
    /// `MN=`.
    pub mn: String,
    /// `Flag=`; left out when `None` (2005 style).
    pub flag: Option<u8>,
    /// `(PNUM, PNO)` of a split packet.
    pub packet: Option<(u32, u32)>,
    /// The CP data area, without `CP=&&` and the closing `&&`.
    pub cp: String,
}

impl FrameBuilder {
    /// The data segment `QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;[PNUM=…;PNO=…;]CP=&&…&&`.
    pub fn data_segment(&self) -> String {
        let mut data = String::with_capacity(64 + self.cp.len());
        if let Some(qn) = &self.qn {
            let _ = write!(data, "QN={qn};");
        }
        if let Some(st) = &self.st {
            let _ = write!(data, "ST={st};");
        }
        let _ = write!(data, "CN={};", self.cn);
        if let Some(pw) = &self.pw {
            let _ = write!(data, "PW={pw};");
        }
        let _ = write!(data, "MN={};", self.mn);
        if let Some(flag) = self.flag {
            let _ = write!(data, "Flag={flag};");
        }
        if let Some((pnum, pno)) = self.packet {
            let _ = write!(data, "PNUM={pnum};PNO={pno};");
        }
        let _ = write!(data, "CP=&&{}&&", self.cp);
        data
    }

    /// The complete frame (see [`wrap_frame`]).
    pub fn build(&self) -> String {
        wrap_frame(&self.data_segment())
    }
}

/// The values of one factor code in a data frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorValues {
    /// Factor code as sent (`w01001`, `001`, …).
    pub code: String,
    /// Statistic and value: `Stat::Value` is written as `-Rtd`.
    pub values: Vec<(Stat, f64)>,
    /// Written as `-Flag` when `Some`.
    pub flag: Option<DataFlag>,
}

/// The suffix HJ 212 uses for a statistic.
pub fn stat_suffix(stat: Stat) -> &'static str {
    match stat {
        Stat::Value => "Rtd",
        Stat::Min => "Min",
        Stat::Avg => "Avg",
        Stat::Max => "Max",
        Stat::Cou => "Cou",
    }
}

/// A data CP area: `DataTime=<data_time>;c-Rtd=v,c-Flag=N;…` (values of a code joined by `,`,
/// codes by `;`). Values use Rust's shortest round-trip formatting.
pub fn data_cp(data_time: &str, factors: &[FactorValues]) -> String {
    let mut cp = format!("DataTime={data_time}");
    for factor in factors {
        let mut first = true;
        for (stat, value) in &factor.values {
            let sep = if first { ';' } else { ',' };
            first = false;
            let _ = write!(cp, "{sep}{}-{}={value}", factor.code, stat_suffix(*stat));
        }
        if let Some(flag) = factor.flag {
            let sep = if first { ';' } else { ',' };
            let _ = write!(cp, "{sep}{}-Flag={}", factor.code, flag.as_char());
        }
    }
    cp
}
