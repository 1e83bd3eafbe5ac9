; ModuleID = "graphc_arrays"
target triple = "<host>"
target datalayout = "<host>"

define void @"kernel"(i64 %"start", i64 %"end", ptr %"inputs", ptr %"outputs") "min-legal-vector-width"="128" "prefer-vector-width"="128" nounwind
{
entry:
  %".6" = getelementptr inbounds ptr, ptr %"inputs", i64 0
  %"in0" = load ptr, ptr %".6"
  %".7" = getelementptr inbounds ptr, ptr %"inputs", i64 1
  %"in1" = load ptr, ptr %".7"
  %".8" = getelementptr inbounds ptr, ptr %"inputs", i64 2
  %"in2" = load ptr, ptr %".8"
  %".9" = getelementptr inbounds ptr, ptr %"inputs", i64 3
  %"in3" = load ptr, ptr %".9"
  %".10" = getelementptr inbounds ptr, ptr %"inputs", i64 4
  %"in4" = load ptr, ptr %".10"
  %".11" = getelementptr inbounds ptr, ptr %"inputs", i64 5
  %"in5" = load ptr, ptr %".11"
  %".12" = getelementptr inbounds ptr, ptr %"inputs", i64 6
  %"in6" = load ptr, ptr %".12"
  %".13" = getelementptr inbounds ptr, ptr %"outputs", i64 0
  %"out0" = load ptr, ptr %".13"
  %".14" = getelementptr inbounds ptr, ptr %"outputs", i64 1
  %"out1" = load ptr, ptr %".14"
  %".15" = getelementptr inbounds ptr, ptr %"outputs", i64 2
  %"out2" = load ptr, ptr %".15"
  %".16" = getelementptr inbounds ptr, ptr %"outputs", i64 3
  %"out3" = load ptr, ptr %".16"
  %".17" = getelementptr inbounds ptr, ptr %"outputs", i64 4
  %"out4" = load ptr, ptr %".17"
  %".18" = getelementptr inbounds ptr, ptr %"inputs", i64 7
  %"sizes" = load ptr, ptr %".18"
  %".19" = getelementptr inbounds i64, ptr %"sizes", i64 0
  %"size_D" = load i64, ptr %".19"
  %".20" = getelementptr inbounds i64, ptr %"sizes", i64 1
  %"size_H" = load i64, ptr %".20"
  %".21" = sdiv i64 %"size_H", 2
  %".22" = srem i64 %"size_H", 2
  %".23" = icmp slt i64 %".22", 0
  %".24" = sub i64 %".21", 1
  %".25" = select  i1 %".23", i64 %".24", i64 %".21"
  %".26" = icmp slt i64 0, %".25"
  %".30" = getelementptr inbounds i8, ptr %"in6", i64 0
  %".36" = sdiv i64 %"size_H", 2
  %".37" = srem i64 %"size_H", 2
  %".38" = icmp slt i64 %".37", 0
  %".39" = sub i64 %".36", 1
  %".40" = select  i1 %".38", i64 %".39", i64 %".36"
  %".41" = mul i64 %".40", 2
  %".103" = mul i64 %"size_H", 8
  %".104" = add i64 %".103", 63
  %".105" = sdiv i64 %".104", 64
  %".106" = srem i64 %".104", 64
  %".107" = icmp slt i64 %".106", 0
  %".108" = sub i64 %".105", 1
  %".109" = select  i1 %".107", i64 %".108", i64 %".105"
  %".110" = mul i64 %".109", 64
  %".111" = getelementptr inbounds i8, ptr %"in6", i64 %".110"
  %".118" = sdiv i64 %"size_H", 2
  %".119" = srem i64 %"size_H", 2
  %".120" = icmp slt i64 %".119", 0
  %".121" = add i64 %".119", 2
  %".122" = select  i1 %".120", i64 %".121", i64 %".119"
  %".123" = insertelement <2 x i64> <i64 undef, i64 undef>, i64 %".122", i32 0
  %".124" = shufflevector <2 x i64> %".123", <2 x i64> <i64 undef, i64 undef>, <2 x i32> <i32 0, i32 0>
  %".125" = icmp slt <2 x i64> <i64 0, i64 1>, %".124"
  %".141" = sdiv i64 %".104", 64
  %".142" = srem i64 %".104", 64
  %".143" = icmp slt i64 %".142", 0
  %".144" = sub i64 %".141", 1
  %".145" = select  i1 %".143", i64 %".144", i64 %".141"
  %".146" = mul i64 %".145", 128
  %".147" = getelementptr inbounds i8, ptr %"in6", i64 %".146"
  %".222" = sdiv i64 %".104", 64
  %".223" = srem i64 %".104", 64
  %".224" = icmp slt i64 %".223", 0
  %".225" = sub i64 %".222", 1
  %".226" = select  i1 %".224", i64 %".225", i64 %".222"
  %".227" = mul i64 %".226", 128
  %".228" = add i64 %".227", 64
  %".229" = getelementptr inbounds i8, ptr %"in6", i64 %".228"
  %".389" = mul i64 %"size_D", %"size_H"
  %".390" = sdiv i64 %".389", 2
  %".391" = srem i64 %".389", 2
  %".392" = icmp slt i64 %".391", 0
  %".393" = sub i64 %".390", 1
  %".394" = select  i1 %".392", i64 %".393", i64 %".390"
  %".404" = sdiv i64 %".389", 2
  %".405" = srem i64 %".389", 2
  %".406" = icmp slt i64 %".405", 0
  %".407" = sub i64 %".404", 1
  %".408" = select  i1 %".406", i64 %".407", i64 %".404"
  %".409" = mul i64 %".408", 2
  br i1 %".26", label %"fill", label %"fill_end"
fill:
  %"fill_i" = phi  i64 [0, %"entry"], [%".33", %"fill"]
  %".28" = mul i64 %"fill_i", 2
  %".29" = add i64 %".28", 0
  %".31" = getelementptr inbounds double, ptr %".30", i64 %".29"
  store <2 x double> <double              0x0, double              0x0>, ptr %".31", align 8
  %".33" = add nsw i64 %"fill_i", 1
  %".34" = icmp slt i64 %".33", %".25"
  br i1 %".34", label %"fill", label %"fill_end"
fill_end:
  %".42" = icmp slt i64 %".41", %"size_H"
  br i1 %".42", label %"fill_tail", label %"fill_tail_end"
fill_tail:
  %"fill_tail_i" = phi  i64 [%".41", %"fill_end"], [%".47", %"fill_tail"]
  %".44" = add i64 %"fill_tail_i", 0
  %".45" = getelementptr inbounds double, ptr %".30", i64 %".44"
  store double              0x0, ptr %".45"
  %".47" = add nsw i64 %"fill_tail_i", 1
  %".48" = icmp slt i64 %".47", %"size_H"
  br i1 %".48", label %"fill_tail", label %"fill_tail_end"
fill_tail_end:
  %".50" = icmp sgt i64 %"size_H", 0
  br i1 %".50", label %"mm_i", label %"mm_i_end"
mm_i:
  %"mm_i_i" = phi  i64 [0, %"fill_tail_end"], [%".82", %"mm_p_end"]
  %".52" = icmp sgt i64 %"size_D", 0
  br i1 %".52", label %"mm_p", label %"mm_p_end"
mm_i_end:
  %".85" = icmp sgt i64 %".25", 0
  br i1 %".85", label %"v", label %"v_end"
mm_p:
  %"mm_p_i" = phi  i64 [0, %"mm_i"], [%".79", %"mm_j_end"]
  %".54" = mul i64 %"mm_i_i", %"size_D"
  %".55" = mul i64 %"mm_p_i", 1
  %".56" = add i64 %".54", %".55"
  %".57" = add i64 0, %".56"
  %".58" = getelementptr inbounds double, ptr %"in0", i64 %".57"
  %".59" = load double, ptr %".58"
  br label %"mm_j"
mm_p_end:
  %".82" = add nsw i64 %"mm_i_i", 1
  %".83" = icmp slt i64 %".82", %"size_H"
  br i1 %".83", label %"mm_i", label %"mm_i_end", !llvm.loop !1
mm_j:
  %"mm_j_i" = phi  i64 [0, %"mm_p"], [%".76", %"mm_j"]
  %".61" = mul i64 %"mm_p_i", 1
  %".62" = mul i64 %"mm_j_i", 1
  %".63" = add i64 %".61", %".62"
  %".64" = add i64 0, %".63"
  %".65" = getelementptr inbounds double, ptr %"in5", i64 %".64"
  %".66" = mul i64 %"mm_i_i", 1
  %".67" = mul i64 %"mm_j_i", 1
  %".68" = add i64 %".66", %".67"
  %".69" = add i64 0, %".68"
  %".70" = getelementptr inbounds double, ptr %".30", i64 %".69"
  %".71" = load double, ptr %".70"
  %".72" = load double, ptr %".65"
  %".73" = fmul double %".59", %".72"
  %".74" = fadd double %".71", %".73"
  store double %".74", ptr %".70"
  %".76" = add nsw i64 %"mm_j_i", 1
  %".77" = icmp slt i64 %".76", 1
  br i1 %".77", label %"mm_j", label %"mm_j_end"
mm_j_end:
  %".79" = add nsw i64 %"mm_p_i", 1
  %".80" = icmp slt i64 %".79", %"size_D"
  br i1 %".80", label %"mm_p", label %"mm_p_end", !llvm.loop !1
v:
  %"v_i" = phi  i64 [0, %"mm_i_end"], [%".114", %"v"]
  %".87" = add i64 %"v_i", 0
  %".88" = mul i64 %".87", 2
  %".89" = add i64 0, %".88"
  %".90" = getelementptr inbounds double, ptr %".30", i64 %".89"
  %".91" = load <2 x double>, ptr %".90", align 8
  %".92" = add i64 0, %".88"
  %".93" = getelementptr inbounds double, ptr %"in2", i64 %".92"
  %".94" = load <2 x double>, ptr %".93", align 8
  %".95" = fadd <2 x double> %".91", %".94"
  %".96" = extractelement <2 x double> %".95", i32 0
  %".97" = call double @"tanh"(double %".96")
  %".98" = insertelement <2 x double> <double undef, double undef>, double %".97", i32 0
  %".99" = extractelement <2 x double> %".95", i32 1
  %".100" = call double @"tanh"(double %".99")
  %".101" = insertelement <2 x double> %".98", double %".100", i32 1
  %".102" = add i64 0, %".88"
  %".112" = getelementptr inbounds double, ptr %".111", i64 %".102"
  store <2 x double> %".101", ptr %".112", align 8
  %".114" = add nsw i64 %"v_i", 1
  %".115" = icmp slt i64 %".114", %".25"
  br i1 %".115", label %"v", label %"v_end", !llvm.loop !1
v_end:
  %".117" = add i64 0, %".41"
  %".126" = getelementptr inbounds double, ptr %".30", i64 %".117"
  %".127" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".126", i32 8, <2 x i1> %".125", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".128" = add i64 0, %".41"
  %".129" = getelementptr inbounds double, ptr %"in2", i64 %".128"
  %".130" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".129", i32 8, <2 x i1> %".125", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".131" = fadd <2 x double> %".127", %".130"
  %".132" = extractelement <2 x double> %".131", i32 0
  %".133" = call double @"tanh"(double %".132")
  %".134" = insertelement <2 x double> <double undef, double undef>, double %".133", i32 0
  %".135" = extractelement <2 x double> %".131", i32 1
  %".136" = call double @"tanh"(double %".135")
  %".137" = insertelement <2 x double> %".134", double %".136", i32 1
  %".138" = add i64 0, %".41"
  %".139" = getelementptr inbounds double, ptr %".111", i64 %".138"
  call void @"llvm.masked.store.v2f64.p0"(<2 x double> %".137", ptr %".139", i32 8, <2 x i1> %".125")
  %".148" = getelementptr inbounds double, ptr %".147", i64 0
  store double              0x0, ptr %".148"
  br label %"mm_i.1"
mm_i.1:
  %"mm_i_i.1" = phi  i64 [0, %"v_end"], [%".181", %"mm_p_end.1"]
  %".151" = icmp sgt i64 %"size_H", 0
  br i1 %".151", label %"mm_p.1", label %"mm_p_end.1"
mm_i_end.1:
  %".184" = getelementptr inbounds double, ptr %"out0", i64 0
  store double              0x0, ptr %".184"
  %".186" = getelementptr inbounds double, ptr %".147", i64 0
  %".187" = load double, ptr %".186"
  %".188" = insertelement <2 x double> <double undef, double undef>, double %".187", i32 0
  %".189" = shufflevector <2 x double> %".188", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".190" = getelementptr inbounds double, ptr %"in3", i64 0
  %".191" = load double, ptr %".190"
  %".192" = insertelement <2 x double> <double undef, double undef>, double %".191", i32 0
  %".193" = shufflevector <2 x double> %".192", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".194" = getelementptr inbounds double, ptr %"in4", i64 0
  %".195" = load double, ptr %".194"
  %".196" = insertelement <2 x double> <double undef, double undef>, double %".195", i32 0
  %".197" = shufflevector <2 x double> %".196", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".198" = fadd <2 x double> %".189", %".193"
  %".199" = fsub <2 x double> %".198", %".197"
  %".200" = fmul <2 x double> %".199", %".199"
  %".201" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".199"
  %".202" = fmul <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".201"
  %".203" = select  <2 x i1> <i1 1, i1 0>, <2 x double> %".200", <2 x double> <double              0x0, double              0x0>
  %".204" = fadd <2 x double> <double              0x0, double              0x0>, %".203"
  %".205" = mul i64 0, 0
  %".206" = add i64 0, %".205"
  %".207" = add i64 %".206", 0
  %".208" = getelementptr inbounds double, ptr %"out4", i64 %".207"
  %".209" = extractelement <2 x double> %".202", i32 0
  store double %".209", ptr %".208"
  %".211" = extractelement <2 x double> %".204", i32 0
  %".212" = extractelement <2 x double> %".204", i32 1
  %".213" = fadd double %".211", %".212"
  %".214" = getelementptr inbounds double, ptr %"out0", i64 0
  %".215" = load double, ptr %".214"
  %".216" = fadd double %".215", %".213"
  store double %".216", ptr %".214"
  %".218" = icmp slt i64 0, %".25"
  br i1 %".218", label %"fill.1", label %"fill_end.1"
mm_p.1:
  %"mm_p_i.1" = phi  i64 [0, %"mm_i.1"], [%".178", %"mm_j_end.1"]
  %".153" = mul i64 %"mm_i_i.1", %"size_H"
  %".154" = mul i64 %"mm_p_i.1", 1
  %".155" = add i64 %".153", %".154"
  %".156" = add i64 0, %".155"
  %".157" = getelementptr inbounds double, ptr %"in1", i64 %".156"
  %".158" = load double, ptr %".157"
  br label %"mm_j.1"
mm_p_end.1:
  %".181" = add nsw i64 %"mm_i_i.1", 1
  %".182" = icmp slt i64 %".181", 1
  br i1 %".182", label %"mm_i.1", label %"mm_i_end.1"
mm_j.1:
  %"mm_j_i.1" = phi  i64 [0, %"mm_p.1"], [%".175", %"mm_j.1"]
  %".160" = mul i64 %"mm_p_i.1", 1
  %".161" = mul i64 %"mm_j_i.1", 1
  %".162" = add i64 %".160", %".161"
  %".163" = add i64 0, %".162"
  %".164" = getelementptr inbounds double, ptr %".111", i64 %".163"
  %".165" = mul i64 %"mm_i_i.1", 1
  %".166" = mul i64 %"mm_j_i.1", 1
  %".167" = add i64 %".165", %".166"
  %".168" = add i64 0, %".167"
  %".169" = getelementptr inbounds double, ptr %".147", i64 %".168"
  %".170" = load double, ptr %".169"
  %".171" = load double, ptr %".164"
  %".172" = fmul double %".158", %".171"
  %".173" = fadd double %".170", %".172"
  store double %".173", ptr %".169"
  %".175" = add nsw i64 %"mm_j_i.1", 1
  %".176" = icmp slt i64 %".175", 1
  br i1 %".176", label %"mm_j.1", label %"mm_j_end.1"
mm_j_end.1:
  %".178" = add nsw i64 %"mm_p_i.1", 1
  %".179" = icmp slt i64 %".178", %"size_H"
  br i1 %".179", label %"mm_p.1", label %"mm_p_end.1", !llvm.loop !1
fill.1:
  %"fill_i.1" = phi  i64 [0, %"mm_i_end.1"], [%".232", %"fill.1"]
  %".220" = mul i64 %"fill_i.1", 2
  %".221" = add i64 %".220", 0
  %".230" = getelementptr inbounds double, ptr %".229", i64 %".221"
  store <2 x double> <double              0x0, double              0x0>, ptr %".230", align 8
  %".232" = add nsw i64 %"fill_i.1", 1
  %".233" = icmp slt i64 %".232", %".25"
  br i1 %".233", label %"fill.1", label %"fill_end.1"
fill_end.1:
  %".235" = icmp slt i64 %".41", %"size_H"
  br i1 %".235", label %"fill_tail.1", label %"fill_tail_end.1"
fill_tail.1:
  %"fill_tail_i.1" = phi  i64 [%".41", %"fill_end.1"], [%".240", %"fill_tail.1"]
  %".237" = add i64 %"fill_tail_i.1", 0
  %".238" = getelementptr inbounds double, ptr %".229", i64 %".237"
  store double              0x0, ptr %".238"
  %".240" = add nsw i64 %"fill_tail_i.1", 1
  %".241" = icmp slt i64 %".240", %"size_H"
  br i1 %".241", label %"fill_tail.1", label %"fill_tail_end.1"
fill_tail_end.1:
  %".243" = icmp sgt i64 %"size_H", 0
  br i1 %".243", label %"mm_i.2", label %"mm_i_end.2"
mm_i.2:
  %"mm_i_i.2" = phi  i64 [0, %"fill_tail_end.1"], [%".274", %"mm_p_end.2"]
  br label %"mm_p.2"
mm_i_end.2:
  %".277" = icmp slt i64 0, %".25"
  br i1 %".277", label %"fill.2", label %"fill_end.2"
mm_p.2:
  %"mm_p_i.2" = phi  i64 [0, %"mm_i.2"], [%".271", %"mm_j_end.2"]
  %".246" = mul i64 %"mm_i_i.2", 1
  %".247" = mul i64 %"mm_p_i.2", %"size_H"
  %".248" = add i64 %".246", %".247"
  %".249" = add i64 0, %".248"
  %".250" = getelementptr inbounds double, ptr %"in1", i64 %".249"
  %".251" = load double, ptr %".250"
  br label %"mm_j.2"
mm_p_end.2:
  %".274" = add nsw i64 %"mm_i_i.2", 1
  %".275" = icmp slt i64 %".274", %"size_H"
  br i1 %".275", label %"mm_i.2", label %"mm_i_end.2", !llvm.loop !1
mm_j.2:
  %"mm_j_i.2" = phi  i64 [0, %"mm_p.2"], [%".268", %"mm_j.2"]
  %".253" = mul i64 %"mm_p_i.2", 1
  %".254" = mul i64 %"mm_j_i.2", 1
  %".255" = add i64 %".253", %".254"
  %".256" = add i64 0, %".255"
  %".257" = getelementptr inbounds double, ptr %"out4", i64 %".256"
  %".258" = mul i64 %"mm_i_i.2", 1
  %".259" = mul i64 %"mm_j_i.2", 1
  %".260" = add i64 %".258", %".259"
  %".261" = add i64 0, %".260"
  %".262" = getelementptr inbounds double, ptr %".229", i64 %".261"
  %".263" = load double, ptr %".262"
  %".264" = load double, ptr %".257"
  %".265" = fmul double %".251", %".264"
  %".266" = fadd double %".263", %".265"
  store double %".266", ptr %".262"
  %".268" = add nsw i64 %"mm_j_i.2", 1
  %".269" = icmp slt i64 %".268", 1
  br i1 %".269", label %"mm_j.2", label %"mm_j_end.2"
mm_j_end.2:
  %".271" = add nsw i64 %"mm_p_i.2", 1
  %".272" = icmp slt i64 %".271", 1
  br i1 %".272", label %"mm_p.2", label %"mm_p_end.2"
fill.2:
  %"fill_i.2" = phi  i64 [0, %"mm_i_end.2"], [%".283", %"fill.2"]
  %".279" = mul i64 %"fill_i.2", 2
  %".280" = add i64 %".279", 0
  %".281" = getelementptr inbounds double, ptr %"out3", i64 %".280"
  store <2 x double> <double              0x0, double              0x0>, ptr %".281", align 8
  %".283" = add nsw i64 %"fill_i.2", 1
  %".284" = icmp slt i64 %".283", %".25"
  br i1 %".284", label %"fill.2", label %"fill_end.2"
fill_end.2:
  %".286" = icmp slt i64 %".41", %"size_H"
  br i1 %".286", label %"fill_tail.2", label %"fill_tail_end.2"
fill_tail.2:
  %"fill_tail_i.2" = phi  i64 [%".41", %"fill_end.2"], [%".291", %"fill_tail.2"]
  %".288" = add i64 %"fill_tail_i.2", 0
  %".289" = getelementptr inbounds double, ptr %"out3", i64 %".288"
  store double              0x0, ptr %".289"
  %".291" = add nsw i64 %"fill_tail_i.2", 1
  %".292" = icmp slt i64 %".291", %"size_H"
  br i1 %".292", label %"fill_tail.2", label %"fill_tail_end.2"
fill_tail_end.2:
  br label %"mm_i.3"
mm_i.3:
  %"mm_i_i.3" = phi  i64 [0, %"fill_tail_end.2"], [%".325", %"mm_p_end.3"]
  br label %"mm_p.3"
mm_i_end.3:
  %".328" = icmp sgt i64 %".25", 0
  br i1 %".328", label %"v.1", label %"v_end.1"
mm_p.3:
  %"mm_p_i.3" = phi  i64 [0, %"mm_i.3"], [%".322", %"mm_j_end.3"]
  %".296" = mul i64 %"mm_i_i.3", 1
  %".297" = mul i64 %"mm_p_i.3", 1
  %".298" = add i64 %".296", %".297"
  %".299" = add i64 0, %".298"
  %".300" = getelementptr inbounds double, ptr %"out4", i64 %".299"
  %".301" = load double, ptr %".300"
  %".302" = icmp sgt i64 %"size_H", 0
  br i1 %".302", label %"mm_j.3", label %"mm_j_end.3"
mm_p_end.3:
  %".325" = add nsw i64 %"mm_i_i.3", 1
  %".326" = icmp slt i64 %".325", 1
  br i1 %".326", label %"mm_i.3", label %"mm_i_end.3"
mm_j.3:
  %"mm_j_i.3" = phi  i64 [0, %"mm_p.3"], [%".319", %"mm_j.3"]
  %".304" = mul i64 %"mm_p_i.3", 1
  %".305" = mul i64 %"mm_j_i.3", 1
  %".306" = add i64 %".304", %".305"
  %".307" = add i64 0, %".306"
  %".308" = getelementptr inbounds double, ptr %".111", i64 %".307"
  %".309" = mul i64 %"mm_i_i.3", %"size_H"
  %".310" = mul i64 %"mm_j_i.3", 1
  %".311" = add i64 %".309", %".310"
  %".312" = add i64 0, %".311"
  %".313" = getelementptr inbounds double, ptr %"out3", i64 %".312"
  %".314" = load double, ptr %".313"
  %".315" = load double, ptr %".308"
  %".316" = fmul double %".301", %".315"
  %".317" = fadd double %".314", %".316"
  store double %".317", ptr %".313"
  %".319" = add nsw i64 %"mm_j_i.3", 1
  %".320" = icmp slt i64 %".319", %"size_H"
  br i1 %".320", label %"mm_j.3", label %"mm_j_end.3", !llvm.loop !1
mm_j_end.3:
  %".322" = add nsw i64 %"mm_p_i.3", 1
  %".323" = icmp slt i64 %".322", 1
  br i1 %".323", label %"mm_p.3", label %"mm_p_end.3"
v.1:
  %"v_i.1" = phi  i64 [0, %"mm_i_end.3"], [%".359", %"v.1"]
  %".330" = add i64 %"v_i.1", 0
  %".331" = mul i64 %".330", 2
  %".332" = add i64 0, %".331"
  %".333" = getelementptr inbounds double, ptr %".229", i64 %".332"
  %".334" = load <2 x double>, ptr %".333", align 8
  %".335" = add i64 0, %".331"
  %".336" = getelementptr inbounds double, ptr %".30", i64 %".335"
  %".337" = load <2 x double>, ptr %".336", align 8
  %".338" = add i64 0, %".331"
  %".339" = getelementptr inbounds double, ptr %"in2", i64 %".338"
  %".340" = load <2 x double>, ptr %".339", align 8
  %".341" = fadd <2 x double> %".337", %".340"
  %".342" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".341"
  %".343" = call <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".342")
  %".344" = fneg <2 x double> %".343"
  %".345" = extractelement <2 x double> %".344", i32 0
  %".346" = call double @"exp"(double %".345")
  %".347" = insertelement <2 x double> <double undef, double undef>, double %".346", i32 0
  %".348" = extractelement <2 x double> %".344", i32 1
  %".349" = call double @"exp"(double %".348")
  %".350" = insertelement <2 x double> %".347", double %".349", i32 1
  %".351" = fadd <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".350"
  %".352" = fmul <2 x double> %".351", %".351"
  %".353" = fdiv <2 x double> %".350", %".352"
  %".354" = fmul <2 x double> <double 0x4010000000000000, double 0x4010000000000000>, %".353"
  %".355" = fmul <2 x double> %".334", %".354"
  %".356" = add i64 0, %".331"
  %".357" = getelementptr inbounds double, ptr %"out2", i64 %".356"
  store <2 x double> %".355", ptr %".357", align 8
  %".359" = add nsw i64 %"v_i.1", 1
  %".360" = icmp slt i64 %".359", %".25"
  br i1 %".360", label %"v.1", label %"v_end.1", !llvm.loop !1
v_end.1:
  %".362" = add i64 0, %".41"
  %".363" = getelementptr inbounds double, ptr %".229", i64 %".362"
  %".364" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".363", i32 8, <2 x i1> %".125", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".365" = add i64 0, %".41"
  %".366" = getelementptr inbounds double, ptr %".30", i64 %".365"
  %".367" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".366", i32 8, <2 x i1> %".125", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".368" = add i64 0, %".41"
  %".369" = getelementptr inbounds double, ptr %"in2", i64 %".368"
  %".370" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".369", i32 8, <2 x i1> %".125", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".371" = fadd <2 x double> %".367", %".370"
  %".372" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".371"
  %".373" = call <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".372")
  %".374" = fneg <2 x double> %".373"
  %".375" = extractelement <2 x double> %".374", i32 0
  %".376" = call double @"exp"(double %".375")
  %".377" = insertelement <2 x double> <double undef, double undef>, double %".376", i32 0
  %".378" = extractelement <2 x double> %".374", i32 1
  %".379" = call double @"exp"(double %".378")
  %".380" = insertelement <2 x double> %".377", double %".379", i32 1
  %".381" = fadd <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".380"
  %".382" = fmul <2 x double> %".381", %".381"
  %".383" = fdiv <2 x double> %".380", %".382"
  %".384" = fmul <2 x double> <double 0x4010000000000000, double 0x4010000000000000>, %".383"
  %".385" = fmul <2 x double> %".364", %".384"
  %".386" = add i64 0, %".41"
  %".387" = getelementptr inbounds double, ptr %"out2", i64 %".386"
  call void @"llvm.masked.store.v2f64.p0"(<2 x double> %".385", ptr %".387", i32 8, <2 x i1> %".125")
  %".395" = icmp slt i64 0, %".394"
  br i1 %".395", label %"fill.3", label %"fill_end.3"
fill.3:
  %"fill_i.3" = phi  i64 [0, %"v_end.1"], [%".401", %"fill.3"]
  %".397" = mul i64 %"fill_i.3", 2
  %".398" = add i64 %".397", 0
  %".399" = getelementptr inbounds double, ptr %"out1", i64 %".398"
  store <2 x double> <double              0x0, double              0x0>, ptr %".399", align 8
  %".401" = add nsw i64 %"fill_i.3", 1
  %".402" = icmp slt i64 %".401", %".394"
  br i1 %".402", label %"fill.3", label %"fill_end.3"
fill_end.3:
  %".410" = icmp slt i64 %".409", %".389"
  br i1 %".410", label %"fill_tail.3", label %"fill_tail_end.3"
fill_tail.3:
  %"fill_tail_i.3" = phi  i64 [%".409", %"fill_end.3"], [%".415", %"fill_tail.3"]
  %".412" = add i64 %"fill_tail_i.3", 0
  %".413" = getelementptr inbounds double, ptr %"out1", i64 %".412"
  store double              0x0, ptr %".413"
  %".415" = add nsw i64 %"fill_tail_i.3", 1
  %".416" = icmp slt i64 %".415", %".389"
  br i1 %".416", label %"fill_tail.3", label %"fill_tail_end.3"
fill_tail_end.3:
  %".418" = icmp sgt i64 %"size_H", 0
  br i1 %".418", label %"mm_i.4", label %"mm_i_end.4"
mm_i.4:
  %"mm_i_i.4" = phi  i64 [0, %"fill_tail_end.3"], [%".450", %"mm_p_end.4"]
  br label %"mm_p.4"
mm_i_end.4:
  ret void
mm_p.4:
  %"mm_p_i.4" = phi  i64 [0, %"mm_i.4"], [%".447", %"mm_j_end.4"]
  %".421" = mul i64 %"mm_i_i.4", 1
  %".422" = mul i64 %"mm_p_i.4", 1
  %".423" = add i64 %".421", %".422"
  %".424" = add i64 0, %".423"
  %".425" = getelementptr inbounds double, ptr %"out2", i64 %".424"
  %".426" = load double, ptr %".425"
  %".427" = icmp sgt i64 %"size_D", 0
  br i1 %".427", label %"mm_j.4", label %"mm_j_end.4"
mm_p_end.4:
  %".450" = add nsw i64 %"mm_i_i.4", 1
  %".451" = icmp slt i64 %".450", %"size_H"
  br i1 %".451", label %"mm_i.4", label %"mm_i_end.4", !llvm.loop !1
mm_j.4:
  %"mm_j_i.4" = phi  i64 [0, %"mm_p.4"], [%".444", %"mm_j.4"]
  %".429" = mul i64 %"mm_p_i.4", 1
  %".430" = mul i64 %"mm_j_i.4", 1
  %".431" = add i64 %".429", %".430"
  %".432" = add i64 0, %".431"
  %".433" = getelementptr inbounds double, ptr %"in5", i64 %".432"
  %".434" = mul i64 %"mm_i_i.4", %"size_D"
  %".435" = mul i64 %"mm_j_i.4", 1
  %".436" = add i64 %".434", %".435"
  %".437" = add i64 0, %".436"
  %".438" = getelementptr inbounds double, ptr %"out1", i64 %".437"
  %".439" = load double, ptr %".438"
  %".440" = load double, ptr %".433"
  %".441" = fmul double %".426", %".440"
  %".442" = fadd double %".439", %".441"
  store double %".442", ptr %".438"
  %".444" = add nsw i64 %"mm_j_i.4", 1
  %".445" = icmp slt i64 %".444", %"size_D"
  br i1 %".445", label %"mm_j.4", label %"mm_j_end.4", !llvm.loop !1
mm_j_end.4:
  %".447" = add nsw i64 %"mm_p_i.4", 1
  %".448" = icmp slt i64 %".447", 1
  br i1 %".448", label %"mm_p.4", label %"mm_p_end.4"
}

declare double @"tanh"(double %".1")

declare <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".1", i32 %".2", <2 x i1> %".3", <2 x double> %".4")

declare void @"llvm.masked.store.v2f64.p0"(<2 x double> %".1", ptr %".2", i32 %".3", <2 x i1> %".4")

declare <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".1")

declare double @"exp"(double %".1")

!0 = !{ !"llvm.loop.unroll.disable" }
!1 = !{ !1, !0 }
